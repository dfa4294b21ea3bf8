// What the Node peers (peer.cjs, streams_peer.cjs) share: the JSON form in
// which they and the Go tests exchange values (binary as {"$bin":
// base64}), the commands they answer, and the command loop on stdin.
"use strict";

const readline = require("readline");

const toWire = (v) => {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toWire(x);
    return out;
  }
  return v;
};

const fromWire = (v) => {
  if (Array.isArray(v)) return v.map(fromWire);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "base64");
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromWire(x);
    return out;
  }
  return v;
};

// say prints one JSON line for the Go side.
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");

// serverOps returns the commands a peer answers on its Socket.IO server
// io; a peer may add its own.
function serverOps(io) {
  const nsp = (c) => io.of(c.nsp || "/");
  return {
    async emit(c) {
      let op = nsp(c);
      if (c.rooms) op = op.to(c.rooms);
      if (c.except) op = op.except(c.except);
      if (c.local) op = op.local;
      op.emit(c.event, ...fromWire(c.args || []));
      return null;
    },
    async emitWithAck(c) {
      let op = nsp(c);
      if (c.rooms) op = op.to(c.rooms);
      return toWire(await op.timeout(c.timeout || 3000).emitWithAck(c.event, ...fromWire(c.args || [])));
    },
    async fetch(c) {
      let op = nsp(c);
      if (c.rooms) op = op.in(c.rooms);
      const sockets = await op.fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: toWire(s.data), handshake: s.handshake }));
    },
    async join(c) {
      await nsp(c).in(c.rooms).socketsJoin(c.join);
      return null;
    },
    async leave(c) {
      await nsp(c).in(c.rooms).socketsLeave(c.leave);
      return null;
    },
    async disconnect(c) {
      await nsp(c).in(c.rooms).disconnectSockets(!!c.close);
      return null;
    },
    async localRooms(c) {
      const sock = nsp(c).sockets.get(c.socket);
      return sock ? [...sock.rooms] : null;
    },
    async socket(c) {
      const sock = nsp(c).sockets.get(c.socket);
      return sock ? { rooms: [...sock.rooms], data: toWire(sock.data), recovered: sock.recovered } : null;
    },
    async serverSideEmit(c) {
      if (c.ack) return toWire(await io.serverSideEmitWithAck(c.event, ...fromWire(c.args || [])));
      io.serverSideEmit(c.event, ...fromWire(c.args || []));
      return null;
    },
    async count(c) {
      return nsp(c).adapter.serverCount();
    },
    async allRooms(c) {
      return [...(await nsp(c).adapter.allRooms())];
    },
  };
}

// serve answers the commands read on stdin, one JSON line each
// ({"id", "op", ...}), with {"id", "result"} or {"id", "error"}; the
// peer exits when stdin ends.
function serve(ops) {
  readline.createInterface({ input: process.stdin }).on("line", async (line) => {
    let c;
    try {
      c = JSON.parse(line);
      say({ id: c.id, result: await ops[c.op](c) });
    } catch (e) {
      say({ id: c && c.id, error: String((e && e.message) || e) });
    }
  });
  process.stdin.on("end", () => process.exit(0));
}

module.exports = { toWire, fromWire, say, serverOps, serve };
