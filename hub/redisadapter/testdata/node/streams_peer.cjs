// A Node socket.io 4.8 server with @socket.io/redis-streams-adapter 0.3
// (over ioredis) and connection state recovery, the peer of the streams
// flavour's mixed-cluster tests. It reads one JSON command per line on
// stdin and answers each with one JSON line on stdout carrying the same
// id; what happens on its own ({"event": ...} for a server-side emit from
// another node, {"connection": ...} for each socket that connects) is
// printed as lines without an id.
//
// Environment: REDIS_URL, STREAM (streamName), PREFIX (channelPrefix),
// SESSION_PREFIX (sessionKeyPrefix), SHARDED=true for sharded pub/sub.
//
// A socket joins the rooms and takes the data its auth names ({rooms,
// data}); the event "join" (room, data) does the same and is answered with
// the socket's rooms. Binary values travel in the commands and answers as
// {"$bin": "<base64>"}.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const Redis = require("ioredis");

const { toWire, say, serverOps, serve } = require("./wire.cjs");

const redis = new Redis(process.env.REDIS_URL);
redis.on("error", (e) => say({ log: "redis: " + e.message }));

const httpServer = http.createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(redis, {
    streamName: process.env.STREAM,
    channelPrefix: process.env.PREFIX,
    sessionKeyPrefix: process.env.SESSION_PREFIX,
    useShardedPubSub: process.env.SHARDED === "true",
  }),
  connectionStateRecovery: { maxDisconnectionDuration: 60000, skipMiddlewares: true },
});
io.on("connection", (socket) => {
  const auth = socket.handshake.auth || {};
  if (!socket.recovered) {
    if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
    if (auth.data !== undefined) socket.data = auth.data;
  }
  socket.on("join", (room, data, cb) => {
    socket.join(room);
    socket.data = data;
    cb([...socket.rooms]);
  });
  say({ connection: { id: socket.id, recovered: socket.recovered, rooms: [...socket.rooms], data: toWire(socket.data) } });
});
io.on("greet", (...args) => {
  const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
  say({ event: "greet", args: toWire(args) });
  if (cb) cb({ from: "node", echo: args[0] });
});

serve(serverOps(io));

httpServer.listen(0, "127.0.0.1", () => say({ ready: httpServer.address().port }));
