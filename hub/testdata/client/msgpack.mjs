// Drives the official socket.io-client with socket.io-msgpack-parser (or
// the default parser) for hub/parser_compat_test.go, one command at a time
// (the internal/nodeproc protocol: one JSON command per line on stdin, each
// answered with {"id", "result"} or {"id", "error"}).
//
//   URL=<server URL> node msgpack.mjs
//
// Sockets are named by the commands; binary values travel in commands and
// results as {"$bin": base64}. Every socket answers an "ask" event's ack
// with ["answer", ...its arguments].
//
// Commands ("op"):
//   open       connects socket "name" to namespace "nsp" with "parser"
//              ("msgpack" or "json"), "transports", "auth" and "manager"
//              (the name of an open socket whose connection to share);
//              result {id, recovered}, or {connect_error: {message, data}},
//              or {disconnect: reason} when the connection closes first
//   emit       emits "event" with "args" on socket "name", with an ack when
//              "ack" is set; result: the ack's arguments
//   until      waits until socket "name" has received "count" (1) events
//              named "event"; result: every event received so far, in order
//              ({event, args})
//   cut        closes the connection of socket "name" as a network cut
//              does; result: the client's disconnect reason
//   reconnect  connects socket "name" again (with its session, if any);
//              result as open's
import readline from "node:readline";
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";

const WAIT = 15000;
const sockets = new Map();

function enc(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const b = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $bin: b.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]));
  return v;
}

function dec(v) {
  if (Array.isArray(v)) return v.map(dec);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "base64");
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, dec(x)]));
  }
  return v;
}

function entry(name) {
  const e = sockets.get(name);
  if (!e) throw new Error(`no socket ${name}`);
  return e;
}

// connect resolves once the socket connects, is refused, or its
// connection closes.
function connect(e) {
  const { socket } = e;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(() => reject(new Error(`no connect within ${WAIT} ms`))), WAIT);
    const onConnect = () => done(() => resolve({ id: socket.id, recovered: socket.recovered === true }));
    const onError = (err) => done(() => resolve({ connect_error: { message: err.message, data: enc(err.data ?? null) } }));
    const onDisconnect = (reason) => done(() => resolve({ disconnect: reason }));
    function done(fn) {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      socket.off("disconnect", onDisconnect);
      fn();
    }
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
    socket.once("disconnect", onDisconnect);
    socket.connect();
  });
}

const ops = {
  open(cmd) {
    const opts = {
      forceNew: true,
      autoConnect: false,
      reconnection: false,
      transports: cmd.transports ?? undefined,
      auth: cmd.auth ?? undefined,
    };
    if (cmd.parser === "msgpack") opts.parser = msgpackParser;
    let socket;
    if (cmd.manager) {
      socket = entry(cmd.manager).socket.io.socket(cmd.nsp ?? "/", { auth: opts.auth });
    } else {
      socket = io(process.env.URL + (cmd.nsp ?? "/"), opts);
    }
    const e = { socket, events: [], wake: () => {} };
    socket.onAny((event, ...args) => {
      e.events.push({ event, args: enc(args) });
      e.wake();
    });
    socket.on("ask", (...args) => {
      const cb = args.pop();
      cb("answer", ...args);
    });
    sockets.set(cmd.name, e);
    return connect(e);
  },
  reconnect: (cmd) => connect(entry(cmd.name)),
  async emit(cmd) {
    const { socket } = entry(cmd.name);
    const args = dec(cmd.args ?? []);
    if (!cmd.ack) {
      socket.emit(cmd.event, ...args);
      return null;
    }
    const reply = await new Promise((resolve, reject) => {
      socket.timeout(WAIT).emit(cmd.event, ...args, (err, ...res) => (err ? reject(err) : resolve(res)));
    });
    return enc(reply);
  },
  until(cmd) {
    const e = entry(cmd.name);
    const count = cmd.count ?? 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${cmd.name}: no ${count} ${cmd.event} within ${WAIT} ms; got ${JSON.stringify(e.events)}`)), WAIT);
      const check = () => {
        if (e.events.filter((x) => x.event === cmd.event).length >= count) {
          clearTimeout(timer);
          e.wake = () => {};
          resolve(e.events);
        }
      };
      e.wake = check;
      check();
    });
  },
  cut(cmd) {
    const { socket } = entry(cmd.name);
    return new Promise((resolve) => {
      socket.once("disconnect", (reason) => resolve(reason));
      socket.io.engine.close();
    });
  },
};

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    const result = await ops[cmd.op](cmd);
    process.stdout.write(JSON.stringify({ id: cmd.id, result: result ?? null }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ id: cmd.id, error: String(e?.message ?? e) }) + "\n");
  }
}).on("close", () => {
  for (const { socket } of sockets.values()) socket.close();
  process.exit(0);
});
