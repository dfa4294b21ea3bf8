// Drives the hubd daemon through its client contract (hub/relay) with
// the real socket.io-client, scenario after scenario. Prints one JSON line
// per observation ({"kind": ..., "value": ...}); the Go test compares them
// with its table. Exits non-zero on anything unexpected (an error, a
// timeout, a duplicate or a missing delivery), and always exits by itself.
//
// Usage: node contract.cjs <base url> <api key>
"use strict";
const { io } = require("socket.io-client");

const base = process.argv[2];
const apiKey = process.argv[3];
const out = (kind, value) => console.log(JSON.stringify({ kind, value }));
const fail = (why) => {
  console.error("contract: " + why);
  process.exit(1);
};
// A bound against hangs, far above what a loaded machine needs.
setTimeout(() => fail("timed out"), 150000).unref();

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const sockets = [];
const connect = (auth, transports = ["websocket"]) =>
  new Promise((resolve, reject) => {
    const s = io(base, { auth, transports, reconnection: false, forceNew: true });
    sockets.push(s);
    s.on("connect", () => resolve(s));
    s.on("connect_error", (err) => {
      s.close();
      reject(err);
    });
  });

// record collects every event a socket receives, by name.
const record = (s) => {
  const got = {};
  s.onAny((name, ...args) => {
    (got[name] = got[name] || []).push(args);
  });
  return got;
};

// waitFor resolves with the arguments of the next event name on s.
const waitFor = (s, name, ms = 30000) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${name} within ${ms}ms`)), ms);
    s.once(name, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });

const count = (got, name) => (got[name] ? got[name].length : 0);

// settle proves that no delivery is still on its way to the sockets ss:
// hubd has queued every delivery of an event before it acks it, and an
// API emit before it answers, so a "settle" event the API sends to the
// whole namespace afterwards reaches each socket after all of them (a
// connection keeps its order). Deliveries that must not happen are
// counted after it, with no waiting on the clock.
let settles = 0;
const settle = async (...ss) => {
  const n = ++settles;
  const arrived = ss.map(
    (s) =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no settle ${n} within 30s`)), 30000);
        const on = (m) => {
          if (m !== n) return;
          clearTimeout(t);
          s.off("settle", on);
          resolve();
        };
        s.on("settle", on);
      }),
  );
  const res = await fetch(base + "/api/emit", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + apiKey },
    body: JSON.stringify({ event: "settle", args: [n] }),
  });
  if (res.status !== 200) fail(`settle ${n}: the API answered ${res.status}`);
  await Promise.all(arrived);
};

(async () => {
  // Connect: denied without a token, allowed with one.
  try {
    await connect({});
    fail("connected without a token");
  } catch (err) {
    out("connect_denied", err.message);
  }
  const A = await connect({ token: "ann" });
  const B = await connect({ token: "bob" });
  const C = await connect({ token: "cid" });
  out("connect_allowed", A.connected && B.connected && C.connected);
  const gotA = record(A);
  const gotB = record(B);
  const gotC = record(C);

  // Join / leave.
  out("join_single", await A.emitWithAck("hub:join", "lobby"));
  out("join_array", await A.emitWithAck("hub:join", ["lobby2"]));
  out("join_b", await B.emitWithAck("hub:join", ["lobby"]));
  out("join_c", await C.emitWithAck("hub:join", "other"));
  out("join_private", await A.emitWithAck("hub:join", ["extra", "private:x"]));
  out("membership_after_private", await A.emitWithAck("hub:join", []));
  const own = await A.emitWithAck("hub:join", A.id);
  out("join_own_id", { ok: own.ok, has_error: typeof own.error === "string" && own.error !== "" });
  const other = await A.emitWithAck("hub:join", B.id);
  out("join_other_id", { ok: other.ok, has_error: typeof other.error === "string" && other.error !== "" });
  for (const [kind, arg] of [
    ["join_number", 42],
    ["join_empty_string", ""],
    ["join_array_with_number", ["extra", 5]],
    ["join_object", { room: "x" }],
  ]) {
    const r = await A.emitWithAck("hub:join", arg);
    out(kind, { ok: r.ok, has_error: typeof r.error === "string" && r.error !== "" });
  }
  out("membership_after_bad", await A.emitWithAck("hub:join", []));
  out("leave_not_in", await A.emitWithAck("hub:leave", "nowhere"));
  out("unknown_command", await A.emitWithAck("hub:x", "y"));

  // Relay: A -> lobby reaches B once, not A, not C.
  const first = waitFor(B, "chat");
  out("chat_ack", await A.emitWithAck("chat", "hello"));
  out("chat_received", await first);
  await settle(A, B, C);
  out("chat_counts", { A: count(gotA, "chat"), B: count(gotB, "chat"), C: count(gotC, "chat") });

  // B in a second room shared with A: still once.
  out("join_b_lobby2", await B.emitWithAck("hub:join", "lobby2"));
  const second = waitFor(B, "chat2");
  out("chat2_ack", await A.emitWithAck("chat2", "again"));
  out("chat2_received", await second);
  await settle(A, B, C);
  out("chat2_counts", { A: count(gotA, "chat2"), B: count(gotB, "chat2"), C: count(gotC, "chat2") });

  // Ordering: 200 numbered events arrive in order.
  {
    const N = 200;
    const seen = [];
    const done = new Promise((resolve) => {
      B.on("seq", (n) => {
        seen.push(n);
        if (seen.length === N) resolve();
      });
    });
    for (let i = 0; i < N; i++) A.emit("seq", i);
    await Promise.race([done, sleep(30000)]);
    let inOrder = seen.length === N;
    for (let i = 0; i < seen.length; i++) if (seen[i] !== i) inOrder = false;
    out("order", { received: seen.length, in_order: inOrder });
    B.off("seq");
  }

  // Acks from the plugin.
  out("ack_drop", await A.emitWithAck("drop-me", 1));
  out("ack_deny", await A.emitWithAck("deny-me", 1));
  out("ack_echo", await A.emitWithAck("echo-me", "hi"));
  await settle(A, B, C);
  out("plugin_events_relayed", {
    drop: count(gotB, "drop-me"),
    deny: count(gotB, "deny-me"),
    echo: count(gotB, "echo-me"),
  });

  // Binary, over websocket and over polling.
  const P = await connect({ token: "pol" }, ["polling"]);
  out("polling_transport", P.io.engine.transport.name);
  out("join_p", await P.emitWithAck("hub:join", "bin"));
  out("join_b_bin", await B.emitWithAck("hub:join", "bin"));
  out("join_a_bin", await A.emitWithAck("hub:join", "bin"));
  const bytes = Buffer.alloc(1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const sameBytes = (args) =>
    args.length === 1 &&
    args[0].name === "blob" &&
    Buffer.isBuffer(args[0].data) &&
    Buffer.compare(args[0].data, bytes) === 0;
  {
    const toB = waitFor(B, "bin");
    const toP = waitFor(P, "bin");
    out("bin_ws_ack", await A.emitWithAck("bin", { name: "blob", data: bytes }));
    out("bin_ws_to_ws", sameBytes(await toB));
    out("bin_ws_to_polling", sameBytes(await toP));
  }
  {
    const toA = waitFor(A, "bin");
    const toB = waitFor(B, "bin");
    out("bin_polling_ack", await P.emitWithAck("bin", { name: "blob", data: bytes }));
    out("bin_polling_to_ws_a", sameBytes(await toA));
    out("bin_polling_to_ws_b", sameBytes(await toB));
  }
  out("leave_a_bin", await A.emitWithAck("hub:leave", "bin"));
  out("leave_b_bin", await B.emitWithAck("hub:leave", "bin"));
  P.close();

  // A 500 KB string.
  {
    const big = "x".repeat(250000) + "é".repeat(125000) + "y".repeat(125000);
    const got = waitFor(B, "big");
    out("big_ack", await A.emitWithAck("big", big));
    const [s] = await got;
    out("big_received", { length: s.length, intact: s === big });
  }

  // 100 clients in one room, one broadcast each, exactly once.
  {
    const N = 100;
    const S = await connect({ token: "sender" });
    let senderGot = 0;
    S.on("bcast", () => senderGot++);
    out("join_sender", await S.emitWithAck("hub:join", "crowd"));
    const crowd = await Promise.all(Array.from({ length: N }, (_, i) => connect({ token: "c" + i })));
    const joins = await Promise.all(crowd.map((s) => s.emitWithAck("hub:join", "crowd")));
    out("crowd_joined", joins.filter((j) => j.ok && j.rooms.length === 1 && j.rooms[0] === "crowd").length);
    const counts = crowd.map(() => 0);
    const bad = [];
    crowd.forEach((s, i) =>
      s.on("bcast", (v) => {
        counts[i]++;
        if (v !== "all") bad.push(v);
      }),
    );
    const ends = Promise.all(crowd.map((s) => waitFor(s, "end")));
    out("bcast_ack", await S.emitWithAck("bcast", "all"));
    S.emit("end");
    await ends;
    out("crowd_counts", {
      exactly_once: counts.filter((c) => c === 1).length,
      bad_args: bad.length,
      sender_got: senderGot,
    });
    crowd.forEach((s) => s.close());
    S.close();
  }

  // HTTP emit to lobby except B: A receives, B does not.
  {
    const toA = waitFor(A, "news");
    const res = await fetch(base + "/api/emit", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + apiKey },
      body: JSON.stringify({ rooms: "lobby", except: [B.id], event: "news", args: ["from api"] }),
    });
    const body = await res.json();
    out("api_status", { status: res.status, ok: body.ok });
    out("api_received_a", await toA);
    await settle(A, B, C);
    out("api_counts", { A: count(gotA, "news"), B: count(gotB, "news"), C: count(gotC, "news") });
  }

  for (const s of sockets) s.close();
  process.exit(0);
})().catch((err) => fail(String(err && err.stack ? err.stack : err)));
