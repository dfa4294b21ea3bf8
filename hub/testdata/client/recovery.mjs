// Drives the official socket.io-client through a connection state
// recovery for hub/recovery_compat_test.go.
//
//   node recovery.mjs <server URL> [JSON parameters]
//
// It connects, asks the server to put it in room "r" and prints one JSON
// line per observation on stdout ({"ev": ..., ...}). Then it obeys the
// commands the test writes on stdin, one per line:
//   cut        closes the connection as a network cut would end it
//   reconnect  connects again; the client sends its session id and offset
//   quit       disconnects and exits 0
// Anything unexpected (a connect error) is printed on stderr with exit 1.
import readline from "node:readline";
import { io } from "socket.io-client";

const [url, paramJSON] = process.argv.slice(2);
const P = paramJSON ? JSON.parse(paramJSON) : {};

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}
function fail(msg) {
  process.stderr.write(`recovery.mjs: ${msg}\n`);
  process.exit(1);
}
process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
setTimeout(() => fail("not finished within 60 s"), 60000).unref();

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
  transports: P.transports,
  auth: { token: "t" },
});
let joined = false;
socket.on("connect", async () => {
  out("connect", { id: socket.id, recovered: socket.recovered, transport: socket.io.engine.transport.name });
  if (!joined) {
    joined = true;
    const rooms = await socket.timeout(15000).emitWithAck("join", "r");
    out("joined", { rooms });
  }
});
socket.on("disconnect", (reason) => out("disconnect", { reason }));
socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));
socket.onAny((event, ...args) => out("event", { event, args: enc(args) }));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  switch (line.trim()) {
    case "cut":
      socket.io.engine.close();
      break;
    case "reconnect":
      socket.connect();
      break;
    case "quit":
      socket.disconnect();
      rl.close();
      process.exit(0);
      break;
    default:
      fail(`unknown command ${line}`);
  }
});
