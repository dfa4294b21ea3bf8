// Reference server for hubbench: the official Node Socket.IO server
// implementing the hubd bench contract on namespace "/".
//
//   join(room, ack)       -> socket.join(room); ack()
//   publish(room, payload) -> io.to(room).emit("msg", payload)
//   echo(x, ack)          -> ack(x)
//
// Default Socket.IO options (polling and WebSocket transports). The port comes
// from the PORT environment variable or the first argument (default 3000).
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.env.PORT || process.argv[2] || 3000);

const httpServer = http.createServer();
const io = new Server(httpServer);

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

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${port}`);
});
