// Drives hubd around its signals with the real socket.io-client, for
// signals_test.go. Prints one JSON line per step ({"kind": ..., "value": ...})
// and waits for a line on stdin where the Go test acts on the daemon.
// Exits non-zero on anything unexpected, and always exits by itself.
//
// Usage:
//
//	node signals.cjs sighup <base url> <clients>
//	node signals.cjs sigterm <base url> <clients>
"use strict";
const { io } = require("socket.io-client");
const readline = require("readline");

const mode = process.argv[2];
const base = process.argv[3];
const N = Number(process.argv[4]);
const out = (kind, value) => console.log(JSON.stringify({ kind, value }));
const fail = (why) => {
  console.error("signals: " + why);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 45000).unref();

// nextLine resolves with the next line the Go test writes on stdin.
const lines = [];
const waiters = [];
readline.createInterface({ input: process.stdin }).on("line", (l) => {
  const w = waiters.shift();
  if (w) w(l);
  else lines.push(l);
});
const nextLine = () =>
  new Promise((resolve) => {
    if (lines.length > 0) resolve(lines.shift());
    else waiters.push(resolve);
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(what + ` within ${ms}ms`)), ms))]);

// sighup: N websocket clients stay connected across a plugin reload.
async function sighup() {
  const disconnects = [];
  const sockets = await Promise.all(
    Array.from(
      { length: N },
      (_, i) =>
        new Promise((resolve, reject) => {
          const s = io(base, { transports: ["websocket"], reconnection: false, forceNew: true });
          s.on("disconnect", (reason) => disconnects.push({ i, reason }));
          s.once("connect", () => resolve(s));
          s.once("connect_error", reject);
        }),
    ),
  );
  const connected = sockets.filter((s) => s.connected).length;
  const joins = await Promise.all(sockets.map((s) => s.timeout(10000).emitWithAck("hub:join", "lobby")));
  const joined = joins.filter((j) => j && j.ok).length;
  const before = await Promise.all(sockets.map((s) => s.timeout(10000).emitWithAck("ping")));
  const v1 = before.filter((r) => r && r.v === 1).length;
  out("ready", { connected, joined, v1 });

  await nextLine(); // the plugin was changed and reloaded

  const after = await Promise.all(
    sockets.map((s) => s.timeout(10000).emitWithAck("ping").then((r) => r, (err) => ({ error: String(err) }))),
  );
  const v2 = after.filter((r) => r && r.v === 2).length;
  const others = after.filter((r) => !(r && r.v === 2)).slice(0, 5);
  out("after", { v2, others, disconnects: disconnects.length, reasons: disconnects.slice(0, 5) });
  for (const s of sockets) s.close();
  process.exit(0);
}

// sigterm: N clients see the transport close when hubd A stops, then
// reconnect to hubd B on the same address.
async function sigterm() {
  const state = Array.from({ length: N }, () => ({ ids: [], reasons: [] }));
  let disconnectedCount = 0;
  let reconnectedCount = 0;
  let onDisconnect = () => {};
  let onReconnect = () => {};
  const sockets = await Promise.all(
    state.map(
      (st) =>
        new Promise((resolve, reject) => {
          const s = io(base, {
            forceNew: true,
            reconnection: true,
            reconnectionDelay: 100,
            reconnectionDelayMax: 200,
          });
          s.on("connect", () => {
            st.ids.push(s.id);
            if (st.ids.length === 1) resolve(s);
            else if (st.ids.length === 2) {
              reconnectedCount++;
              onReconnect();
            }
          });
          s.on("disconnect", (reason, details) => {
            st.reasons.push(reason);
            // For the test's message: the transport, and why it closed.
            st.details = {
              transport: s.io.engine && s.io.engine.transport.name,
              reason,
              details: details && String(details.message || details.description || details),
            };
            if (st.reasons.length === 1) {
              disconnectedCount++;
              onDisconnect();
            }
          });
          s.once("connect_error", (err) => {
            if (st.ids.length === 0) reject(err);
          });
        }),
    ),
  );
  // The clients start on polling and upgrade to WebSocket; SIGTERM comes
  // once they all have (a client still on polling when the listener closes
  // may see "transport error", which also reconnects).
  const upgradeDeadline = Date.now() + 5000;
  const transports = () => sockets.map((s) => s.io.engine && s.io.engine.transport.name);
  while (transports().some((t) => t !== "websocket") && Date.now() < upgradeDeadline) await sleep(20);
  out("ready", {
    connected: sockets.filter((s) => s.connected).length,
    websocket: transports().filter((t) => t === "websocket").length,
  });

  await nextLine(); // hubd A got SIGTERM and exited
  await withTimeout(
    new Promise((resolve) => {
      onDisconnect = () => disconnectedCount === N && resolve();
      onDisconnect();
    }),
    5000,
    "not every client disconnected",
  ).catch((err) => console.error(String(err)));
  out("disconnected", {
    count: disconnectedCount,
    reasons: [...new Set(state.flatMap((st) => st.reasons))].sort(),
    active: sockets.filter((s) => s.active).length,
    details: state.map((st) => st.details),
  });

  await nextLine(); // hubd B is listening
  const started = Date.now();
  await withTimeout(
    new Promise((resolve) => {
      onReconnect = () => reconnectedCount === N && resolve();
      onReconnect();
    }),
    10000,
    "not every client reconnected",
  ).catch((err) => console.error(String(err)));
  const reconnected = sockets.filter((s) => s.connected).length;
  const newIds = state.filter((st) => st.ids.length >= 2 && st.ids[1] !== st.ids[0]).length;

  // An emit through B: everyone joins "lobby", the first client sends one
  // event, every other client receives it.
  let joined = 0;
  let received = 0;
  if (reconnected === N) {
    const joins = await Promise.all(sockets.map((s) => s.timeout(5000).emitWithAck("hub:join", "lobby")));
    joined = joins.filter((j) => j && j.ok).length;
    const got = Promise.all(
      sockets.slice(1).map(
        (s) =>
          new Promise((resolve) => {
            const t = setTimeout(() => resolve(false), 5000);
            s.once("hello", (v) => {
              clearTimeout(t);
              resolve(v === "via B");
            });
          }),
      ),
    );
    await sockets[0].timeout(5000).emitWithAck("hello", "via B");
    received = (await got).filter(Boolean).length;
  }
  out("reconnected", {
    count: reconnectedCount,
    connected: reconnected,
    new_ids: newIds,
    ms: Date.now() - started,
    joined,
    received,
  });
  for (const s of sockets) s.close();
  process.exit(0);
}

(mode === "sighup" ? sighup : mode === "sigterm" ? sigterm : () => fail("unknown mode " + mode))().catch((err) =>
  fail(String(err && err.stack ? err.stack : err)),
);
