// The official socket.io-client through connection state recoveries, for
// the streams flavour's tests (streams_recovery_test.go and others).
//
//   SIO_URL=<server URL> SIO_PARAMS=<JSON> node streams_client.mjs
//
// Parameters: transports (["websocket"] by default), room and data (on
// its first connect the client emits "join" with them, which the server
// answers with the socket's rooms).
//
// It prints one JSON line per observation on stdout, {"ev": ...}:
// connect (id, recovered, pid), joined (rooms), event (event, args, with
// binary as {"$bin": base64}), disconnect (reason), connect_error
// (message). It obeys one JSON command per line on stdin, {"id", "op"},
// answered with {"id", "result"}:
//   cut        closes the connection as a network cut would end it
//   reconnect  connects again; the client sends its session id and offset
//   state      answers {connected, recovered, id, pid, offset}
//   quit       disconnects and exits 0
import readline from "node:readline";
import { io } from "socket.io-client";

const url = process.env.SIO_URL;
const P = JSON.parse(process.env.SIO_PARAMS || "{}");

const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
process.on("unhandledRejection", (e) => say({ ev: "fatal", message: String(e?.stack ?? e) }));

// enc makes binary printable as {"$bin": base64}.
function enc(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const b = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $bin: b.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]));
  return v;
}

const socket = io(url, {
  forceNew: true,
  reconnection: false,
  transports: P.transports ?? ["websocket"],
});
let joined = false;
socket.on("connect", async () => {
  say({ ev: "connect", id: socket.id, recovered: socket.recovered, pid: socket._pid ?? null });
  if (!joined && P.room) {
    joined = true;
    const rooms = await socket.timeout(15000).emitWithAck("join", P.room, P.data ?? {});
    say({ ev: "joined", rooms });
  }
});
socket.on("disconnect", (reason) => say({ ev: "disconnect", reason }));
socket.on("connect_error", (err) => say({ ev: "connect_error", message: err.message }));
socket.onAny((event, ...args) => say({ ev: "event", event, args: enc(args) }));

const ops = {
  cut() {
    socket.io.engine.close();
    return null;
  },
  reconnect() {
    socket.connect();
    return null;
  },
  state() {
    return { connected: socket.connected, recovered: socket.recovered, id: socket.id ?? null, pid: socket._pid ?? null, offset: socket._lastOffset ?? null };
  },
  quit() {
    socket.disconnect();
    setImmediate(() => process.exit(0));
    return null;
  },
};

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  let c;
  try {
    c = JSON.parse(line);
    say({ id: c.id, result: ops[c.op]() });
  } catch (e) {
    say({ id: c && c.id, error: String((e && e.message) || e) });
  }
});
process.stdin.on("end", () => process.exit(0));
