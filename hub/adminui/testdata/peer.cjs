// A Node socket.io 4.8 server with @socket.io/redis-adapter 8.3 and the
// admin UI's own server side, instrument() of @socket.io/admin-ui 0.5: the
// Node member of the admin UI's cluster tests. It prints {"ready": port}
// once it listens, then serves until its stdin closes.
//
// Environment: REDIS_URL, KEY (the adapter's key), SERVER_ID (the
// instrumentation's serverId).
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { instrument } = require("@socket.io/admin-ui");
const { createClient } = require("redis");

const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");

async function main() {
  const pub = createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  pub.on("error", (e) => say({ log: "pub: " + e.message }));
  sub.on("error", (e) => say({ log: "sub: " + e.message }));
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter: createAdapter(pub, sub, { key: process.env.KEY, requestsTimeout: 5000 }),
  });
  io.on("connection", (socket) => {
    socket.on("join", (room, cb) => {
      socket.join(room);
      if (typeof cb === "function") cb("ok");
    });
  });
  instrument(io, { auth: false, serverId: process.env.SERVER_ID, mode: "development" });

  process.stdin.on("data", () => {});
  process.stdin.on("end", () => {
    io.close();
    pub.quit().catch(() => {});
    sub.quit().catch(() => {});
    process.exit(0);
  });
  httpServer.listen(0, "127.0.0.1", () => say({ ready: httpServer.address().port }));
}

main().catch((e) => {
  say({ fatal: String(e && e.stack) });
  process.exit(1);
});
