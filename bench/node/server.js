// Reference server for hubbench: the official Node Socket.IO server
// implementing the hubd bench contract on namespace "/".
//
//   join(room, ack)       -> socket.join(room); ack()
//   publish(room, payload) -> io.to(room).emit("msg", payload)
//   echo(x, ack)          -> ack(x)
//
// Default Socket.IO options (polling and WebSocket transports). The port comes
// from the PORT environment variable or the first argument (default 3000).
// With REDIS_URL set, the server joins a cluster through
// @socket.io/redis-adapter (createAdapter, key REDIS_KEY or "socket.io"), as
// a Node deployment of several nodes would.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || process.argv[2] || 3000);

const httpServer = http.createServer();
const io = new Server(httpServer);

async function useRedis() {
  const { createAdapter } = require("@socket.io/redis-adapter");
  const { createClient } = require("redis");
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  pub.on("error", (e) => console.error("redis pub:", e.message));
  sub.on("error", (e) => console.error("redis sub:", e.message));
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub, { key: process.env.REDIS_KEY || "socket.io" }));
}

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack();
  });
  socket.on("publish", (room, payload) => {
    io.to(String(room)).emit("msg", payload);
  });
  socket.on("echo", (x, ack) => {
    if (typeof ack === "function") ack(x);
  });
});

(process.env.REDIS_URL ? useRedis() : Promise.resolve()).then(() =>
  httpServer.listen(port, "127.0.0.1", () => {
    console.log(`listening ${port}`);
  })
);
