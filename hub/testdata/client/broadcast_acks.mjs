// Drives the official socket.io-client for the broadcast-ack tests
// (hub/broadcast_ack_test.go): several clients are asked for an ack by one
// broadcast; some answer, one disconnects from the namespace before
// answering, one closes its whole connection before answering.
//
//   node broadcast_acks.mjs <server URL>
//
// Prints JSON lines {"ev": name, ...} on stdout; a failure prints a reason
// on stderr and exits 1. Every wait is bounded: the script always exits.

import { io } from "socket.io-client";

const [url] = process.argv.slice(2);
const WAIT = 10000;

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}
function fail(msg) {
  process.stderr.write(`broadcast_acks: ${msg}\n`);
  process.exit(1);
}
process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
setTimeout(() => fail(`not finished after ${3 * WAIT} ms`), 3 * WAIT).unref();

// answer: answers the ack; leave: disconnects from the namespace first;
// drop: closes the whole connection first.
const roles = { a: "answer", b: "answer", c: "leave", d: "drop" };
const sockets = {};

await Promise.all(
  Object.entries(roles).map(
    ([name, role]) =>
      new Promise((resolve, reject) => {
        const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false, auth: { name } });
        sockets[name] = s;
        s.on("connect_error", (e) => reject(new Error(`${name}: connect_error ${e.message}`)));
        s.on("connect", resolve);
        s.on("question", (round, ack) => {
          out("asked", { name, round });
          if (role === "answer") ack(`${name}:${round}`);
          else if (role === "leave") s.disconnect();
          else s.io.engine.close();
        });
      }),
  ),
).catch((e) => fail(e.message));
out("connected");

// The Go side says when it is done; then everything is closed.
await new Promise((resolve) => {
  const t = setTimeout(() => fail("no done from the server"), 2 * WAIT);
  sockets.a.on("done", () => {
    clearTimeout(t);
    resolve();
  });
});
for (const s of Object.values(sockets)) s.disconnect();
out("end");
process.exit(0);
