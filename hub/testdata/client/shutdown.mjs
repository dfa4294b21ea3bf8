// Drives the official socket.io-client through a hub's graceful shutdown,
// for hub/shutdown_compat_test.go.
//
//   node shutdown.mjs <server URL> <JSON parameters: {transports, n}>
//
// The client connects, emits "go" (the server then emits n "tick" events
// and shuts down), records the ticks and the disconnect, then waits for
// its first reconnection attempt to fail. Every observation is one JSON
// line {"ev": name, ...fields}; anything unexpected exits 1 with the
// reason on stderr. Every wait is bounded and the script always exits.

import { io } from "socket.io-client";

const [url, paramJSON] = process.argv.slice(2);
const P = JSON.parse(paramJSON ?? "{}");
const out = (ev, fields = {}) => process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
const fail = (msg) => {
  process.stderr.write(`shutdown.mjs: ${msg}\n`);
  process.exit(1);
};
process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
setTimeout(() => fail("not finished after 20 s"), 20000).unref();

const ticks = [];
const s = io(url, {
  transports: P.transports ?? undefined,
  forceNew: true,
  reconnection: true,
  reconnectionDelay: 100,
  reconnectionDelayMax: 200,
  randomizationFactor: 0,
});
s.on("tick", (i) => ticks.push(i));
const early = (err) => fail(`connect_error before the first connect: ${err.message}`);
s.once("connect_error", early);
s.once("connect", () => {
  s.off("connect_error", early);
  out("connected", { id: s.id, transport: s.io.engine.transport.name });
  s.emit("go");
});
s.once("disconnect", (reason, details) => {
  out("disconnect", {
    reason,
    description: details && String(details.description?.message ?? details.description ?? details.message ?? ""),
    ticks,
    active: s.active,
  });
  s.io.once("reconnect_attempt", (attempt) => out("reconnect_attempt", { attempt }));
  s.io.once("reconnect_error", (err) => {
    // Polling reports the HTTP status in description; a WebSocket
    // refused during the handshake gives an error event.
    const d = err.description;
    out("reconnect_error", { message: err.message, status: typeof d === "number" ? d : null });
    s.close();
    out("end");
    process.exit(0);
  });
  s.io.once("reconnect", () => fail("reconnected to a server that is shutting down"));
});
