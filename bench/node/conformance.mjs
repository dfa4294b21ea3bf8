// The Node reference for the official protocol test suites: the servers
// the suites' documentation gives (an Engine.IO echo server and a Socket.IO
// server, pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6), both on
// one port as hubd's conformance server has them: Engine.IO at /engine.io/,
// Socket.IO at /socket.io/. scripts/conformance.sh runs it beside hubd.
//
//   PORT=3000 node conformance.mjs
import { createServer } from "node:http";
import { Server as Engine } from "engine.io";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const http = createServer();

const engine = new Engine({ pingInterval: 300, pingTimeout: 200, maxPayload: 1e6, cors: { origin: "*" } });
engine.attach(http, { path: "/engine.io/", destroyUpgrade: false });
engine.on("connection", (socket) => {
  socket.on("data", (...args) => socket.send(...args));
});

const io = new Server(http, {
  pingInterval: 300,
  pingTimeout: 200,
  maxPayload: 1000000,
  connectTimeout: 1000,
  destroyUpgrade: false,
  cors: { origin: "*" },
});
io.on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
});
io.of("/custom").on("connection", (socket) => {
  socket.emit("auth", socket.handshake.auth);
});

http.listen(port, "localhost", () => console.log(`listening ${port}`));
