// Drives the official socket.io-client against a hubd server for the hub
// package's handler tests (hub/handler_compat_test.go): a server listener
// that waits for the acks of the client that sent its event.
//
//   node handlers.mjs <scenario> <server URL> [JSON parameters]
//
// Parameters: clients (how many connections, 1), transports (the client's
// option, its default when absent), waitMs (the bound of one wait, 10000).
// Every client answers "hello" acks with "hi " + its argument. The first
// client then sends the scenario's event with an ack and prints the
// answer; the scenario is the event's name ("cmd", "cmd-all", ...).
//
// Every observation is one JSON line {"ev": name, ...fields} on stdout; the
// Go test asserts on them. Anything unexpected makes the script print
// "handlers <scenario>: <why>" on stderr and exit 1. Every wait is bounded.

import { io } from "socket.io-client";

const [scenario, url, paramJSON] = process.argv.slice(2);
if (!scenario || !url) {
  process.stderr.write("usage: node handlers.mjs <scenario> <url> [json params]\n");
  process.exit(2);
}
const P = paramJSON ? JSON.parse(paramJSON) : {};
const WAIT = P.waitMs ?? 10000;

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}

function fail(msg) {
  process.stderr.write(`handlers ${scenario}: ${msg}\n`);
  process.exit(1);
}

process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
process.on("uncaughtException", (e) => fail(`uncaught exception: ${e?.stack ?? e}`));
setTimeout(() => fail(`scenario not finished after ${3 * WAIT} ms`), 3 * WAIT).unref();

function connect(i) {
  const opts = { forceNew: true, reconnection: false };
  if (P.transports) opts.transports = P.transports;
  const socket = io(url, opts);
  socket.on("hello", (arg, ack) => {
    out("hello", { client: i, arg });
    if (typeof ack === "function") ack("hi " + arg);
  });
  socket.on("disconnect", (reason) => out("disconnect", { client: i, reason }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${i}: no connect within ${WAIT} ms`)), WAIT);
    socket.once("connect", () => {
      clearTimeout(timer);
      out("connected", { client: i, transport: socket.io.engine.transport.name });
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(new Error(`client ${i}: connect_error ${err.message}`));
    });
  });
}

const sockets = [];
try {
  for (let i = 0; i < (P.clients ?? 1); i++) sockets.push(await connect(i));
} catch (e) {
  fail(e.message);
}

try {
  const answer = await sockets[0].timeout(WAIT).emitWithAck(scenario);
  out("reply", { value: answer });
} catch (e) {
  out("reply", { error: e.message });
}
for (const s of sockets) s.disconnect();
out("end");
process.exit(0);
