// Drives socket.io-client 2.x (Engine.IO revision 3, Socket.IO protocol 4)
// against a hub.Server with AllowEIO3, for the hub package's TestCompatV2
// tests. It prints one JSON line per thing it observed and "end" last; the
// Go side checks them against what the server saw.
//
//   node driver.js <scenario> <url> <transports>
//
// scenario: "full" (the whole tour below) or "refused" (the server does not
// allow revision 3); transports: "polling", "websocket" or "default"
// (polling, then the upgrade).
"use strict";

const io = require("socket.io-client");

const [scenario, url, mode] = process.argv.slice(2);

let waiting = "start";
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const watchdog = setTimeout(() => {
  out({ ev: "fail", msg: "timed out waiting for " + waiting });
  process.exit(1);
}, 60000);

// plain turns received values into JSON: binary as {"$bin": base64}.
function plain(v) {
  if (v instanceof ArrayBuffer) v = Buffer.from(v);
  if (ArrayBuffer.isView(v)) {
    return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  }
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = plain(v[k]);
    return o;
  }
  return v;
}

// once waits for event ev of emitter e, failing on the watchdog.
function once(e, ev, what) {
  waiting = what || ev;
  return new Promise((resolve) => e.once(ev, (...args) => resolve(args)));
}

function emitAck(s, ev, ...args) {
  waiting = "the ack of " + ev;
  return new Promise((resolve) => s.emit(ev, ...args, (...reply) => resolve(reply)));
}

const transports =
  mode === "polling" ? ["polling"] : mode === "websocket" ? ["websocket"] : ["polling", "websocket"];
const opts = { transports, reconnection: false, forceNew: true, query: { who: "v2" } };

async function full() {
  const main = io(url, opts);
  main.on("error", (e) => out({ ev: "main-error", err: plain(e) }));
  await once(main, "connect");
  const engine = main.io.engine;
  out({ ev: "connect", id: main.id, sid: engine.id, transport: engine.transport.name });

  if (mode === "default" && engine.transport.name !== "websocket") {
    await once(engine, "upgrade", "the upgrade");
  }

  // The client pings, the server answers: three pongs mean three
  // heartbeats, each a pingInterval apart.
  let pongs = 0;
  await new Promise((resolve) => {
    waiting = "three pongs";
    main.on("pong", () => {
      if (++pongs === 3) resolve();
    });
  });
  out({ ev: "heartbeat", pongs });

  out({ ev: "echo", args: plain(await emitAck(main, "echo", { a: 1 }, "x")) });

  const buf = Buffer.from([0, 1, 2, 255]);
  out({ ev: "bin", args: plain(await emitAck(main, "bin", buf, { nested: Buffer.from("abc") })) });

  // The server emits with an ack; the client answers with binary.
  main.on("hello", (msg, ack) => {
    out({ ev: "hello", msg: plain(msg) });
    ack("thanks", Buffer.from([1, 2, 3]));
  });
  const helloDone = once(main, "hello-done");
  main.emit("ask-hello");
  out({ ev: "hello-done", args: plain(await helloDone) });

  await emitAck(main, "join");
  const roomcast = once(main, "roomcast");
  main.emit("shout");
  out({ ev: "roomcast", args: plain(await roomcast) });

  // A second namespace on the same connection, its auth in the query.
  const chat = main.io.socket("/chat", { query: { token: "good" } });
  const welcome = once(chat, "welcome");
  await once(chat, "connect", "the /chat connect");
  out({ ev: "chat-connect", id: chat.id });
  out({ ev: "welcome", args: plain(await welcome) });

  // Refusals: a middleware's ConnectError with data, a plain error, an
  // unknown namespace. A 2.x client emits them as "error".
  for (const nsp of ["/private", "/strict", "/nowhere"]) {
    const s = main.io.socket(nsp);
    const [err] = await once(s, "error", "the " + nsp + " refusal");
    out({ ev: "refused", nsp, err: plain(err), connected: s.connected });
    s.close(); // else the manager keeps the connection for it
  }

  // The server disconnects /chat; the client leaves the main namespace.
  const chatGone = once(chat, "disconnect", "the /chat disconnect");
  chat.emit("kick");
  out({ ev: "chat-disconnect", reason: (await chatGone)[0] });

  out({ ev: "transport", name: main.io.engine.transport.name });
  const mainGone = once(main, "disconnect", "the main disconnect");
  main.close();
  out({ ev: "main-disconnect", reason: (await mainGone)[0] });
}

async function refused() {
  const main = io(url, opts);
  const [err] = await Promise.race([
    once(main, "connect_error"),
    once(main, "connect").then(() => {
      throw new Error("connected to a server that does not allow revision 3");
    }),
  ]);
  // Polling's description is the HTTP status; WebSocket's, the ws
  // library's error, whose message says the status.
  const d = err.description;
  out({ ev: "connect_error", message: err.message, description: d && typeof d === "object" ? String(d.message) : d });
  main.close();
}

(scenario === "refused" ? refused() : full())
  .then(() => {
    clearTimeout(watchdog);
    out({ ev: "end" });
    // Node exits once the client's last request is out: the close it
    // sends after the "disconnect" event, which a process.exit here would
    // cut off.
  })
  .catch((err) => {
    out({ ev: "fail", msg: String(err && err.stack ? err.stack : err) });
    process.exit(1);
  });
