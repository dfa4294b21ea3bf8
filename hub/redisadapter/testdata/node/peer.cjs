// A Node socket.io 4.8 server with @socket.io/redis-adapter 8.3, the peer of
// the mixed-cluster tests. It reads one JSON command per line on stdin and
// answers each with one JSON line on stdout carrying the same id; what other
// nodes send it (server-side emits) is printed as {"event": ...} lines.
//
// Environment: REDIS_URL, or CLUSTER_NODES (host:port of a Redis Cluster's
// nodes, comma-separated) for the redis package's createCluster; KEY (the
// adapter's channel prefix), SHARDED=true for the sharded adapter (dynamic
// subscription mode).
//
// Binary values travel in the commands and answers as {"$bin": "<base64>"}.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { createClient, createCluster } = require("redis");

const { toWire, say, serverOps, serve } = require("./wire.cjs");

async function main() {
  const pub = process.env.CLUSTER_NODES
    ? createCluster({ rootNodes: process.env.CLUSTER_NODES.split(",").map((a) => ({ url: "redis://" + a })) })
    : createClient({ url: process.env.REDIS_URL });
  const sub = pub.duplicate();
  pub.on("error", (e) => say({ log: "pub: " + e.message }));
  sub.on("error", (e) => say({ log: "sub: " + e.message }));
  await Promise.all([pub.connect(), sub.connect()]);

  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    adapter:
      process.env.SHARDED === "true"
        ? createShardedAdapter(pub, sub, { channelPrefix: process.env.KEY })
        : createAdapter(pub, sub, { key: process.env.KEY, requestsTimeout: 3000 }),
  });
  // A socket joins the rooms and takes the data its auth names.
  io.on("connection", (socket) => {
    const auth = socket.handshake.auth || {};
    if (Array.isArray(auth.rooms)) socket.join(auth.rooms);
    if (auth.data !== undefined) socket.data = auth.data;
  });
  io.on("greet", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    say({ event: "greet", args: toWire(args) });
    if (cb) cb({ from: "node", echo: args[0] });
  });

  serve(serverOps(io));

  httpServer.listen(0, "127.0.0.1", () => say({ ready: httpServer.address().port }));
}

main().catch((e) => {
  say({ fatal: String(e && e.stack) });
  process.exit(1);
});
