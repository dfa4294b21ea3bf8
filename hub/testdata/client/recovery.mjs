// Drives the official socket.io-client through a connection state
// recovery for hub/recovery_compat_test.go, one command at a time (the
// internal/nodeproc protocol: one JSON command per line on stdin, each
// answered with {"id", "result"} or {"id", "error"}).
//
//   URL=<server URL> TRANSPORTS=<json list or empty> node recovery.mjs
//
// Commands ("op"):
//   connect    connects; result {id, recovered}
//   join       emits join(room) with an ack; result: the ack's argument
//   cut        closes the connection as a network cut ends it; resolves
//              on the client's disconnect, result its reason
//   reconnect  connects again, sending the session id and the last offset
//              back; result {id, recovered}
//   until      waits for an event named "event"; result: every event
//              received so far, in order ({event, args}, binary as
//              {"$bin": base64})
import readline from "node:readline";
import { io } from "socket.io-client";

const WAIT = 15000;
const socket = io(process.env.URL, {
  forceNew: true,
  autoConnect: false,
  reconnection: false,
  transports: process.env.TRANSPORTS ? JSON.parse(process.env.TRANSPORTS) : undefined,
  auth: { token: "t" },
});

function enc(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const b = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $bin: b.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]));
  return v;
}

const events = [];
let wake = () => {};
socket.onAny((event, ...args) => {
  events.push({ event, args: enc(args) });
  wake();
});

// next resolves with the arguments of socket's next ev, or rejects.
function next(ev) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${ev} within ${WAIT} ms`)), WAIT);
    socket.once(ev, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function connect() {
  const connected = next("connect");
  const failed = new Promise((_, reject) => socket.once("connect_error", (e) => reject(new Error(`connect_error: ${e.message}`))));
  socket.connect();
  await Promise.race([connected, failed]);
  return { id: socket.id, recovered: socket.recovered === true };
}

const ops = {
  connect,
  reconnect: connect,
  join: (cmd) => socket.timeout(WAIT).emitWithAck("join", cmd.room),
  async cut() {
    const gone = next("disconnect");
    socket.io.engine.close();
    const [reason] = await gone;
    return reason;
  },
  until(cmd) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no event ${cmd.event} within ${WAIT} ms`)), WAIT);
      const check = () => {
        if (events.some((e) => e.event === cmd.event)) {
          clearTimeout(timer);
          wake = () => {};
          resolve(events);
        }
      };
      wake = check;
      check();
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
  socket.close();
  process.exit(0);
});
