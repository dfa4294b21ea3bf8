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
// a Node deployment of several nodes would; with ADAPTER=streams as well,
// through @socket.io/redis-streams-adapter instead (stream REDIS_KEY or
// "socket.io"). RECOVERY=1 turns connectionStateRecovery on (its
// defaults). REDIS_CLUSTER=1 makes REDIS_URL a comma-separated list of a
// Redis Cluster's nodes, reached with the redis client's createCluster
// (the classic adapter only).
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || process.argv[2] || 3000);

const httpServer = http.createServer();
const io = new Server(httpServer, process.env.RECOVERY === "1" ? { connectionStateRecovery: {} } : {});

async function useRedis() {
  if (process.env.ADAPTER === "streams") {
    const { createAdapter } = require("@socket.io/redis-streams-adapter");
    const { createClient } = require("redis");
    const client = createClient({ url: process.env.REDIS_URL });
    client.on("error", (e) => console.error("redis:", e.message));
    await client.connect();
    io.adapter(createAdapter(client, { streamName: process.env.REDIS_KEY || "socket.io" }));
    return;
  }
  const { createAdapter } = require("@socket.io/redis-adapter");
  const { createClient, createCluster } = require("redis");
  const pub = process.env.REDIS_CLUSTER === "1"
    ? createCluster({ rootNodes: process.env.REDIS_URL.split(",").map((url) => ({ url })) })
    : createClient({ url: process.env.REDIS_URL });
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
