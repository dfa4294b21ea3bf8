// The client of the shadow plugin tests (host/shadow_e2e_test.go), the
// real socket.io-client. Phase 1: a client without a token, "ann" and
// "bob" connect; both join "lobby", ann asks for "private:x", shouts
// (bob hears it) and sends a secret. It then prints {"kind":"phase"} and
// waits for a line on stdin (the test promotes the shadow meanwhile).
// Phase 2, on the same connections: ann shouts, sends a secret and asks
// for "private:y" again, and a new client without a token tries to
// connect. It reports its sockets' ids and whether any was disconnected
// before closing. Prints one JSON line per observation; exits non-zero on
// anything unexpected.
//
// Usage: node client.cjs <base url>
"use strict";
const readline = require("node:readline");
const { out, fail, connect } = require("../client.cjs")("client", 120000);
const next = (s, event) => new Promise((resolve) => s.once(event, (...args) => resolve(args)));
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

(async () => {
  const anon = await connect({});
  const ann = await connect({ token: "ann" });
  const bob = await connect({ token: "bob" });
  const sockets = { anon, ann, bob };
  const disconnects = [];
  for (const [name, s] of Object.entries(sockets)) s.on("disconnect", (reason) => disconnects.push({ name, reason }));
  const ids = () => ({ anon: anon.id, ann: ann.id, bob: bob.id });
  out("ids", ids());
  out("join", await ann.emitWithAck("hub:join", "lobby"));
  out("join", await bob.emitWithAck("hub:join", "lobby"));
  out("join_private", await ann.emitWithAck("hub:join", ["private:x"]));
  let heard = next(bob, "shout");
  out("shout_ack", await ann.emitWithAck("shout", "hello"));
  out("shout_heard", await heard);
  out("secret_ack", await ann.emitWithAck("secret", 1));
  out("phase", 1);
  await lines.next();

  heard = next(bob, "shout");
  out("shout_ack", await ann.emitWithAck("shout", "again"));
  out("shout_heard", await heard);
  out("secret_ack", await ann.emitWithAck("secret", 2));
  out("join_private", await ann.emitWithAck("hub:join", ["private:y"]));
  try {
    const s = await connect({});
    s.close();
    out("connect", "connected without a token");
  } catch (err) {
    out("connect_error", { message: err.message, data: err.data });
  }
  out("after", { ids: ids(), connected: Object.values(sockets).map((s) => s.connected), disconnects });
  for (const s of Object.values(sockets)) s.close();
  process.exit(0);
})().catch((err) => fail(String(err && err.stack ? err.stack : err)));
