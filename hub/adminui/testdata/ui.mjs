// What the admin UI does on the wire, with the official socket.io-client:
// it connects to the admin namespace of a server (hubd or Node) as the UI
// does, prints every event the server sends it as one JSON line
// {"event": name, "args": [...]}, and answers commands, one JSON line each
// on stdin, with a line carrying the command's id:
//
//   {"id": 1, "op": "emit", "args": ["emit", "/", null, "news", "hi"]}
//
// Usage: node ui.mjs <server URL> [JSON auth]. It prints {"connected": id}
// once connected, {"connect_error": message} if refused, and ends when its
// stdin closes.
import readline from "node:readline";
import { io } from "socket.io-client";

const [url, authJSON] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const toWire = (v) => {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { $bin: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return v.map(toWire);
  if (v && typeof v === "object" && !(v instanceof Date)) {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = toWire(x);
    return out;
  }
  return v;
};

// The options of the UI's tryConnect (ui/src/App.vue).
const socket = io(url + "/admin", {
  forceNew: true,
  reconnection: false,
  withCredentials: true,
  transports: ["polling", "websocket"],
  path: "/socket.io",
  auth: authJSON ? JSON.parse(authJSON) : {},
});
socket.on("connect", () => say({ connected: socket.id }));
socket.on("connect_error", (e) => say({ connect_error: e.message }));
socket.on("disconnect", (reason) => say({ disconnected: reason }));
socket.onAny((event, ...args) => say({ event, args: toWire(args) }));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const c = JSON.parse(line);
  try {
    if (c.op === "emit") socket.emit(...c.args);
    say({ id: c.id, result: true });
  } catch (e) {
    say({ id: c.id, error: String(e) });
  }
});
rl.on("close", () => {
  socket.disconnect();
  process.exit(0);
});
