// Drives the official socket.io-client against a hubd server for the hub
// package's TestCompat tests (hub/client_compat_test.go).
//
//   node driver.mjs <scenario> <server URL> [JSON parameters]
//
// Every observation is printed as one JSON line {"ev": name, ...fields} on
// stdout; the Go test parses them and asserts on them. Anything unexpected
// (a connect error, a disconnect, a missing event, a wrong value the client
// can judge alone) makes the script print "driver <scenario>: <why>" on
// stderr and exit 1. Every wait is bounded, and the script always exits by
// itself: 0 when the scenario ran to its end.

import { createHash } from "node:crypto";
import http from "node:http";
import { io, Manager } from "socket.io-client";

const [scenario, url, paramJSON] = process.argv.slice(2);
if (!scenario || !url) {
  process.stderr.write("usage: node driver.mjs <scenario> <url> [json params]\n");
  process.exit(2);
}
const P = paramJSON ? JSON.parse(paramJSON) : {};
// Bounds only: nothing waits them out, and they are long so that a loaded
// machine passes.
const WAIT = P.waitMs ?? 15000; // default bound of one wait

// ---------------------------------------------------------------- output

function out(ev, fields = {}) {
  // stdout is a pipe: Node writes it synchronously on Linux, so nothing is
  // lost when process.exit follows.
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}

function fail(msg) {
  process.stderr.write(`driver ${scenario}: ${msg}\n`);
  process.exit(1);
}

process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
process.on("uncaughtException", (e) => fail(`uncaught exception: ${e?.stack ?? e}`));
setTimeout(() => fail(`scenario not finished after ${P.timeoutMs ?? 60000} ms`), P.timeoutMs ?? 60000);

// Every TCP connection the client opens (polling requests, which use no
// keep-alive agent, and WebSockets) is tracked until it closes, so that the
// script ends only once the server has answered its last requests.
const openSockets = new Set();
const httpRequest = http.request;
http.request = function (...args) {
  const req = httpRequest.apply(this, args);
  req.once("socket", (sock) => {
    if (sock.destroyed) return;
    openSockets.add(sock);
    sock.once("close", () => openSockets.delete(sock));
  });
  return req;
};

// ------------------------------------------------------------ test data

// pat returns n deterministic bytes; the Go side (compatPattern) makes the
// same ones.
function pat(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed * 13 + (i >> 8)) & 0xff;
  return b;
}

// ALPHABET mixes ASCII, JSON-escaped characters and multi-byte UTF-8 (one
// character outside the BMP); bigString picks n code points from it, as
// compatString does in Go.
const ALPHABET = Array.from('abcdefghijklmnopqrstuvwxyz0123456789 "\\/<>&\n\té✓😀');
function bigString(n, seed) {
  const parts = new Array(n);
  for (let i = 0; i < n; i++) parts[i] = ALPHABET[(i * 7 + seed) % ALPHABET.length];
  return parts.join("");
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

// enc makes a received value printable: binary becomes {"$bin": base64}
// (or {"$binlen", "$sha256"} past 1 KiB) and long strings {"$strlen",
// "$sha256"} (UTF-8 bytes); the Go side (compatJSON) encodes its expected
// values the same way. A binary value that is not a Buffer says what it is.
function enc(v) {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const kind = Buffer.isBuffer(v) ? null : v.constructor.name;
    const b = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    const o = b.length <= 1024 ? { $bin: b.toString("base64") } : { $binlen: b.length, $sha256: sha256(b) };
    if (kind) o.$kind = kind;
    return o;
  }
  if (typeof v === "string" && v.length > 1024) {
    const b = Buffer.from(v, "utf8");
    return { $strlen: b.length, $sha256: sha256(b) };
  }
  if (typeof v === "function") return { $fn: true };
  if (Array.isArray(v)) return v.map(enc);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, enc(x)]));
  return v;
}

// ------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// until resolves once cond() holds, checking it every few milliseconds;
// it fails the scenario after ms, saying what() was awaited.
function until(cond, what, ms = WAIT) {
  const deadline = Date.now() + ms;
  return new Promise((resolve) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() > deadline) fail(`${what()}: not within ${ms} ms`);
      else setTimeout(tick, 5);
    };
    tick();
  });
}

// Inbox records every event a socket receives, so that a scenario can wait
// for one without racing its arrival.
class Inbox {
  constructor(socket, label) {
    this.label = label;
    this.items = [];
    this.waiters = [];
    this.log = [];
    socket.onAny((ev, ...args) => {
      this.log.push({ ev, args });
      const i = this.waiters.findIndex((w) => w.ev === ev);
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(args);
      } else {
        this.items.push({ ev, args });
      }
    });
  }
  next(ev, ms = WAIT) {
    const i = this.items.findIndex((x) => x.ev === ev);
    if (i >= 0) return Promise.resolve(this.items.splice(i, 1)[0].args);
    return new Promise((resolve) => {
      const timer = setTimeout(() => fail(`${this.label}: no "${ev}" event within ${ms} ms`), ms);
      this.waiters.push({ ev, resolve, timer });
    });
  }
  // names lists the events received so far, in order.
  names() {
    return this.log.map((x) => x.ev);
  }
}

// once resolves with the arguments of the next ev of emitter.
function once(emitter, ev, what, ms = WAIT) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => fail(`${what}: no "${ev}" within ${ms} ms`), ms);
    emitter.once(ev, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// guard fails the scenario on a connect_error or a disconnect it did not
// announce (socket.allow = {connectError, disconnect}).
function guard(socket, label) {
  socket.allow = { connectError: false, disconnect: false };
  socket.on("connect_error", (err) => {
    if (!socket.allow.connectError) fail(`${label}: unexpected connect_error: ${err.message} ${JSON.stringify(err.data)}`);
  });
  socket.on("disconnect", (reason) => {
    if (!socket.allow.disconnect) fail(`${label}: unexpected disconnect: ${reason}`);
  });
  return socket;
}

// connected waits for the socket's connection.
async function connected(socket, label) {
  if (!socket.connected) await once(socket, "connect", label);
  return socket;
}

// open returns a guarded socket on its own Manager, with its inbox.
function open(nsp = "/", opts = {}, label = nsp) {
  const socket = io(url + (nsp === "/" ? "" : nsp), {
    forceNew: true,
    reconnection: false,
    transports: P.transports,
    ...opts,
  });
  guard(socket, label);
  socket.inbox = new Inbox(socket, label);
  return socket;
}

const transportOf = (socket) => socket.io.engine?.transport?.name;

// expectDisconnect announces a disconnect and resolves with its reason.
function expectDisconnect(socket, label, ms = WAIT) {
  socket.allow.disconnect = true;
  return once(socket, "disconnect", label, ms).then(([reason]) => reason);
}

// --------------------------------------------------------------- scenarios

const scenarios = {
  // Connect with auth and query, ack both styles, a plain event seen by the
  // server's catch-all listener, then a client-side disconnect.
  async basic() {
    const s = open("/", { query: { q1: "v1", empty: "" }, auth: { token: "tok-123", n: 7 }, extraHeaders: { "x-custom": "yes" } });
    await connected(s, "basic");
    out("connect", { id: s.id, transport: transportOf(s) });
    const [welcome] = await s.inbox.next("welcome");
    out("welcome", { value: enc(welcome) });
    const ack1 = await new Promise((resolve) => s.emit("echo", "hello", 42, { a: [1, "x", null], b: true }, (...r) => resolve(r)));
    out("echo-ack", { args: enc(ack1) });
    const ack2 = await s.emitWithAck("echo", "é✓😀 <&>", 1.5);
    out("echo-ack2", { value: enc(ack2) });
    s.emit("catch-all", 1, [2], { three: 3 });
    s.send("sent with send()");
    const done = await s.emitWithAck("sync");
    out("sync-ack", { value: enc(done) });
    out("transport", { name: transportOf(s) });
    out("events", { names: s.inbox.names() });
    const reason = expectDisconnect(s, "basic");
    s.disconnect();
    out("disconnect", { reason: await reason });
  },

  // Numbered events both ways while the connection starts (and, with the
  // default transports, upgrades): nothing lost, duplicated or reordered.
  async stream() {
    const n = P.n;
    const s = open("/", { auth: { n } });
    const recv = [];
    const recvTransports = new Set();
    let sent = 0;
    let upgrade = null;
    s.io.engine.on("upgrade", (t) => {
      upgrade = { transport: t.name, received: recv.length, sent };
    });
    const complete = new Promise((resolve) => {
      s.on("n", (i, b) => {
        if (i % 10 === 0 ? !(Buffer.isBuffer(b) && b.equals(pat(8, i % 256))) : b !== undefined) {
          fail(`event ${i} carries ${JSON.stringify(enc(b))}`);
        }
        recv.push(i);
        recvTransports.add(transportOf(s));
        if (recv.length === n) resolve();
      });
    });
    await connected(s, "stream");
    const firstTransport = transportOf(s);
    await new Promise((resolve) => {
      const tick = setInterval(() => {
        for (let k = 0; k < P.burst && sent < n; k++, sent++) {
          if (sent % 10 === 0) s.emit("c", sent, pat(8, sent % 256));
          else s.emit("c", sent);
        }
        if (sent === n) {
          clearInterval(tick);
          resolve();
        }
      }, 1);
    });
    await complete;
    for (let i = 0; i < n; i++) if (recv[i] !== i) fail(`event ${i} is ${recv[i]}: ${JSON.stringify(recv.slice(Math.max(0, i - 3), i + 3))}`);
    const summary = await s.emitWithAck("done");
    // Let a late duplicate show up, if any.
    await sleep(50);
    if (recv.length !== n) fail(`received ${recv.length} events, want ${n}`);
    out("stream", {
      received: recv.length,
      sent,
      firstTransport,
      finalTransport: transportOf(s),
      upgrade,
      transports: [...recvTransports].sort(),
      server: summary,
    });
    const reason = expectDisconnect(s, "stream");
    s.disconnect();
    await reason;
  },

  // Two namespaces from one Manager share one Engine.IO connection; a
  // third socket with forceNew has its own.
  async namespaces() {
    const opts = { transports: P.transports, reconnection: false };
    const root = guard(io(url, opts), "/");
    const admin = guard(io(url + "/admin", { auth: { who: "admin" } }), "/admin");
    if (root.io !== admin.io) fail("io(url) and io(url/admin) do not share a Manager");
    root.inbox = new Inbox(root, "/");
    admin.inbox = new Inbox(admin, "/admin");
    await connected(root, "/");
    await connected(admin, "/admin");
    out("hello", { nsp: "/", value: (await root.inbox.next("hello"))[0] });
    out("hello", { nsp: "/admin", value: (await admin.inbox.next("hello"))[0] });
    out("whoami", { nsp: "/", id: root.id, value: await root.emitWithAck("whoami") });
    out("whoami", { nsp: "/admin", id: admin.id, value: await admin.emitWithAck("whoami") });
    const other = guard(io(url, { ...opts, forceNew: true }), "other");
    other.inbox = new Inbox(other, "other");
    await connected(other, "other");
    await other.inbox.next("hello");
    // The server broadcasts in both namespaces, then answers.
    const counts = await root.emitWithAck("trigger");
    out("trigger", { counts });
    // other's connection is its own: its broadcast may come after the
    // answer above, but before the answer of a round trip on it.
    await other.emitWithAck("whoami");
    const events = (s) => s.inbox.log.filter((x) => x.ev !== "hello").map((x) => [x.ev, ...x.args]);
    out("events", { nsp: "/", events: events(root) });
    out("events", { nsp: "/admin", events: events(admin) });
    out("events", { nsp: "other", events: events(other) });
    for (const s of [root, admin, other]) s.allow.disconnect = true;
    other.disconnect();
    admin.disconnect();
    root.disconnect();
  },

  // P.names sockets, each on its own connection, report the tags of the
  // "m" events they got once the server says "done".
  async rooms() {
    const sockets = P.names.map((name) => open("/", { auth: { name } }, name));
    await Promise.all(sockets.map((s, i) => connected(s, P.names[i])));
    await Promise.all(sockets.map((s) => s.emitWithAck("ready")));
    await Promise.all(sockets.map((s) => s.inbox.next("done")));
    sockets.forEach((s, i) => {
      out("got", { name: P.names[i], tags: s.inbox.log.filter((x) => x.ev === "m").map((x) => x.args[0]) });
      s.allow.disconnect = true;
      s.disconnect();
    });
  },

  // Acks both ways, timeouts both ways, broadcast acks to P.names sockets.
  async acks() {
    const sockets = P.names.map((name) => open("/", { auth: { name } }, name));
    sockets.forEach((s, i) => {
      const name = P.names[i];
      s.on("question", (n, cb) => cb(n * 6, "fine"));
      s.on("silent", (x) => out("silent-received", { name, x }));
      s.on("bq", (silent, cb) => {
        if (name !== silent) cb(name);
      });
    });
    await Promise.all(sockets.map((s, i) => connected(s, P.names[i])));
    const s = sockets[0];

    const ack1 = await new Promise((resolve) => s.emit("ack-me", 1, "two", (...r) => resolve(r)));
    out("ack-callback", { args: ack1 });
    out("ack-promise", { value: await s.emitWithAck("ack-me", { x: 1 }) });
    const ack3 = await new Promise((resolve) => s.timeout(10000).emit("ack-me", 5, (err, ...r) => resolve([err, r])));
    out("ack-timeout-in-time", { err: ack3[0] ? ack3[0].message : null, args: ack3[1] });

    let t0 = Date.now();
    const [err] = await new Promise((resolve) => s.timeout(300).emit("no-ack", "a", (...r) => resolve(r)));
    out("timeout-callback", { message: err?.message ?? null, isError: err instanceof Error, ms: Date.now() - t0 });
    t0 = Date.now();
    try {
      const v = await s.timeout(300).emitWithAck("no-ack", "b");
      out("timeout-promise", { resolved: v });
    } catch (e) {
      out("timeout-promise", { message: e.message, ms: Date.now() - t0 });
    }

    // Three acks answered by the server in the reverse order.
    const later = await Promise.all([1, 2, 3].map((k) => new Promise((resolve) => s.emit("later", k, (v) => resolve([k, v])))));
    out("acks-out-of-order", { pairs: later });

    // The server now asks the acks: see the Go side.
    s.emit("server-acks-please");
    await Promise.all(sockets.map((x) => x.inbox.next("done", 2 * WAIT)));
    for (const x of sockets) {
      x.allow.disconnect = true;
      x.disconnect();
    }
  },

  // Binary arguments both ways, top level and nested, in events and acks.
  async binary() {
    const s = open("/");
    s.on("sbin-ack", (b, cb) => cb(Buffer.from(b).reverse(), { r: pat(7, 24), n: b.length }));
    await connected(s, "binary");
    const ab = new Uint8Array(pat(5, 4)).buffer; // a plain ArrayBuffer
    const ack = await new Promise((resolve) =>
      s.emit(
        "bin-up",
        pat(16, 1),
        new Uint8Array(pat(300, 2)),
        { nested: { buf: pat(256, 3), list: [Buffer.alloc(0), "s", pat(1, 5)] }, n: 1 },
        ab,
        "text",
        (...r) => resolve(r),
      ),
    );
    out("bin-up-ack", { args: enc(ack) });
    s.emit("sbin-please");
    out("sbin", { args: enc(await s.inbox.next("sbin")) });
    await s.inbox.next("done");
    out("transport", { name: transportOf(s) });
    s.allow.disconnect = true;
    s.disconnect();
  },

  // Namespace middlewares refusing with data, dynamic namespaces accepted
  // and refused; the main namespace's socket stays connected throughout.
  async middleware() {
    // autoConnect off: each socket sends its CONNECT when connect() says.
    const mopts = { transports: P.transports, reconnection: false, autoConnect: false };
    const m = new Manager(url, mopts);
    const root = guard(m.socket("/"), "/");
    root.inbox = new Inbox(root, "/");
    root.connect();
    await connected(root, "/");
    const attempt = async (mgr, nsp, auth) => {
      const s = mgr.socket(nsp, { auth });
      s.inbox = new Inbox(s, nsp);
      s.on("disconnect", (r) => fail(`${nsp}: unexpected disconnect: ${r}`));
      const result = new Promise((resolve) => {
        const timer = setTimeout(() => fail(`${nsp}: neither connect nor connect_error`), WAIT);
        s.once("connect", () => {
          clearTimeout(timer);
          resolve({ ok: true });
        });
        s.once("connect_error", (err) => {
          clearTimeout(timer);
          resolve({ ok: false, message: err.message, data: err.data ?? null, hasData: "data" in err });
        });
      });
      s.connect();
      const r = await result;
      if (r.ok) {
        r.hello = (await s.inbox.next("hello"))[0];
        r.id = s.id;
      } else {
        // Give a wrongly retried connection a chance to show up.
        await sleep(100);
        r.connectedLater = s.connected;
      }
      r.active = s.active;
      out("result", { nsp, auth: auth ?? null, ...r });
      return s;
    };
    for (const [nsp, auth] of P.attempts) await attempt(m, nsp, auth);
    // The refused sockets leave the Manager and its connection alone.
    out("root", { connected: root.connected, id: root.id, value: await root.emitWithAck("ping") });
    // The same namespace, another Manager, the right token.
    const m2 = new Manager(url, mopts);
    const ok = await attempt(m2, "/private", { token: "good" });
    for (const s of [...Object.values(m.nsps), ok]) s.off("disconnect");
    root.allow.disconnect = true;
    m._close();
    m2._close();
  },

  // Normal and volatile events in a burst; volatile events on an idle
  // transport.
  async volatile() {
    const s = open("/");
    await connected(s, "volatile");
    s.emit("burst", P.n);
    await s.inbox.next("end");
    const ns = s.inbox.log.filter((x) => x.ev === "n").map((x) => x.args[0]);
    const vs = s.inbox.log.filter((x) => x.ev === "v").map((x) => x.args[0]);
    for (let i = 0; i < P.n; i++) if (ns[i] !== i) fail(`normal event ${i} is ${ns[i]}`);
    if (ns.length !== P.n) fail(`got ${ns.length} normal events, want ${P.n}`);
    for (let i = 1; i < vs.length; i++) if (!(vs[i] > vs[i - 1])) fail(`volatile events out of order or repeated: ${vs}`);
    // A round trip: the burst is over on both sides before the idle part.
    await s.emitWithAck("sync");
    s.emit("idle");
    await s.inbox.next("end2");
    out("volatile", {
      normal: ns.length,
      volatile: vs.length,
      volatileMax: vs.length ? vs[vs.length - 1] : null,
      idle: s.inbox.log.filter((x) => x.ev === "vi" || x.ev === "vb").map((x) => [x.ev, ...x.args]),
      order: s.inbox.names().filter((e) => e !== "n" && e !== "v"),
      transport: transportOf(s),
    });
    s.allow.disconnect = true;
    s.disconnect();
  },

  // 500 KB strings and binaries both ways.
  async large() {
    const s = open("/");
    await connected(s, "large");
    const n = P.size;
    out("big-str-ack", { args: enc(await new Promise((r) => s.emit("big-str", bigString(n, 1), (...a) => r(a)))) });
    out("big-bin-ack", { args: enc(await new Promise((r) => s.emit("big-bin", pat(n, 3), (...a) => r(a)))) });
    s.emit("big-please");
    out("big", { args: enc(await s.inbox.next("big")) });
    out("transport", { name: transportOf(s) });
    s.allow.disconnect = true;
    s.disconnect();
  },

  // A message over the server's maxPayload closes the connection; a
  // normal one before works.
  async maxpayload() {
    const s = open("/");
    await connected(s, "maxpayload");
    out("small-ack", { value: await s.emitWithAck("small", "x".repeat(P.small)) });
    // Together over maxPayload, one by one under it: the client splits its
    // polling POSTs by the maxPayload the server announced.
    for (let i = 0; i < P.many; i++) s.emit("many", i, "m".repeat(P.manySize));
    out("many-ack", { value: await s.emitWithAck("count") });
    const reason = expectDisconnect(s, "maxpayload");
    s.emit("too-big", "y".repeat(P.big));
    out("disconnect", { reason: await reason, active: s.active });
  },

  // Disconnections started by either side, as the client sees them.
  async disconnect() {
    const mode = P.mode;
    const root = open("/", { reconnectionDelay: 50, reconnectionDelayMax: 50, reconnection: P.reconnection ?? true }, "/");
    let attempts = 0;
    root.io.on("reconnect_attempt", () => attempts++);
    await connected(root, "/");
    let admin = null;
    if (P.admin) {
      // Manager.socket() connects the socket (autoConnect); a second
      // connect() would send a second CONNECT.
      admin = guard(root.io.socket("/admin"), "/admin");
      await connected(admin, "/admin");
    }
    out("connected", { id: root.id, admin: admin?.id ?? null });
    const managerClose = new Promise((resolve) => root.io.once("close", (reason) => resolve(reason)));
    const reasons = [expectDisconnect(root, "/")];
    if (admin) reasons.push(expectDisconnect(admin, "/admin"));
    switch (mode) {
      case "client":
        root.disconnect();
        break;
      case "engine":
        root.io.engine.close();
        break;
      default: // the server does it
        root.emit("kick", mode);
    }
    const got = await Promise.all([reasons[0], admin && mode !== "server" ? reasons[1] : null]);
    const result = { reason: got[0], adminReason: got[1] };
    if (admin && mode === "server") {
      // Only "/" was disconnected: "/admin" still works over the same
      // connection.
      result.adminConnected = admin.connected;
      result.adminAck = await admin.emitWithAck("ping");
    }
    if (mode !== "server") {
      result.managerClose = await Promise.race([managerClose, sleep(WAIT).then(() => "none")]);
    }
    // Give an automatic reconnection the time to start, if any.
    await sleep(P.settleMs ?? 500);
    Object.assign(result, { attempts, connected: root.connected, active: root.active, engine: root.io.engine?.readyState ?? null });
    out("result", result);
    root.allow.disconnect = true;
    root.io._close();
  },

  // An idle connection over P.pings heartbeats (the server pings, the
  // client answers), on its final transport P.final; then it still works.
  async idle() {
    const s = open("/");
    let pings = 0;
    s.io.on("ping", () => pings++);
    await connected(s, "idle");
    const first = transportOf(s);
    await until(() => pings >= P.pings, () => `${P.pings} pings (have ${pings})`);
    if (P.final && transportOf(s) !== P.final) await once(s.io.engine, "upgrade", `idle, waiting for ${P.final}`);
    out("idle", { connected: s.connected, pings, first, transport: transportOf(s), ack: await s.emitWithAck("ping") });
    s.allow.disconnect = true;
    s.disconnect();
  },

  // P.rounds times: a Manager with "/" and "/admin" asks the server to
  // disconnect it with Socket.Disconnect(true); both sockets must get
  // "io server disconnect" and the Manager must not reconnect.
  async kicks() {
    const results = [];
    for (let i = 0; i < P.rounds; i++) {
      const root = open("/", { reconnection: true, reconnectionDelay: 20, reconnectionDelayMax: 20 }, `round ${i} /`);
      let attempts = 0;
      root.io.on("reconnect_attempt", () => attempts++);
      const admin = guard(root.io.socket("/admin"), `round ${i} /admin`);
      await connected(root, `round ${i} /`);
      await connected(admin, `round ${i} /admin`);
      const seen = { root: [], admin: [], manager: [] };
      root.on("disconnect", (r) => seen.root.push(r));
      admin.on("disconnect", (r) => seen.admin.push(r));
      root.io.on("close", (r) => seen.manager.push(r));
      const reasons = Promise.all([expectDisconnect(root, `round ${i} /`), expectDisconnect(admin, `round ${i} /admin`)]);
      root.emit("kick", "server-close");
      await reasons;
      await sleep(60); // a reconnection would start after 20 ms
      results.push({ root: [...seen.root], admin: [...seen.admin], manager: [...seen.manager], attempts });
      root.io._close();
    }
    out("kicks", { results });
  },

  // The server goes away; the client reconnects by itself to whatever
  // listens at the address then, with a new socket id, and goes on.
  async reconnect() {
    const s = open("/", { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200, randomizationFactor: 0 });
    // While no server listens, reconnection attempts fail.
    let reconnectErrors = 0;
    s.io.on("reconnect_error", () => reconnectErrors++);
    const reconnected = once(s.io, "reconnect", "manager", 2 * WAIT);
    await connected(s, "first connection");
    const hello = (n) => new Promise((resolve) => s.emit("hello", n, (...args) => resolve(args)));
    const first = { id: s.id, transport: transportOf(s), ack: await hello(1) };
    out("first", first);
    const reason = expectDisconnect(s, "/");
    s.emit("go-away");
    const why = await reason;
    s.allow.disconnect = false;
    s.allow.connectError = true;
    const [attempt] = await reconnected;
    await connected(s, "reconnection");
    out("second", {
      reason: why,
      attempt,
      reconnectErrors,
      id: s.id,
      recovered: s.recovered === true,
      transport: transportOf(s),
      ack: await hello(2),
    });
    s.allow.disconnect = true;
    s.disconnect();
  },

  // Others try to send this client invalid UTF-8 (a client relayed by the
  // server, the HTTP API, Go code); the server does the attacks when asked
  // and answers with what each got. The client must stay connected, get
  // nothing but the string the server repaired, and still round-trip.
  async utf8() {
    const s = open("/");
    await connected(s, "utf8");
    const results = await s.emitWithAck("attack");
    const [repaired] = await s.inbox.next("repaired");
    const pong = await s.emitWithAck("ping");
    out("utf8", {
      results,
      repaired: enc(repaired),
      pong,
      events: s.inbox.names(),
      connected: s.connected,
      transport: transportOf(s),
    });
    const reason = expectDisconnect(s, "utf8");
    s.disconnect();
    await reason;
  },
};

const run = scenarios[scenario];
if (!run) fail(`unknown scenario (have: ${Object.keys(scenarios).join(", ")})`);
await run();
out("end");
// Let the last requests (a DISCONNECT or close packet on its way in a
// polling POST or a WebSocket) reach the server before the process goes:
// wait until the server has answered them and every connection closed.
await until(() => openSockets.size === 0, () => `the end, with ${openSockets.size} connections still open,`);
process.exit(0);
