// The client of TestDecisionTraces (host/trace_e2e_test.go), the real
// socket.io-client: a connect without a token (refused), then "ann" and
// "bob" connect, join "lobby", ann asks for a private room (refused),
// shouts (transformed, routed to the lobby: bob hears it) and sends a
// secret (refused); both then close. Prints one JSON line per
// observation; exits non-zero on anything unexpected.
//
// Usage: node client.cjs <base url>
"use strict";
const { out, fail, connect } = require("../client.cjs")("client", 60000);

(async () => {
  try {
    await connect({});
    fail("connected without a token");
  } catch (err) {
    out("connect_error", { message: err.message, data: err.data });
  }
  const ann = await connect({ token: "ann" });
  const bob = await connect({ token: "bob" });
  out("ids", { ann: ann.id, bob: bob.id });
  out("join", await ann.emitWithAck("hub:join", "lobby"));
  out("join", await bob.emitWithAck("hub:join", "lobby"));
  out("join_private", await ann.emitWithAck("hub:join", ["private:x"]));
  const heard = new Promise((resolve) => bob.on("shout", (...args) => resolve(args)));
  out("shout_ack", await ann.emitWithAck("shout", "hello"));
  out("shout_heard", await heard);
  out("secret_ack", await ann.emitWithAck("secret", 1));
  ann.close();
  bob.close();
  process.exit(0);
})().catch((err) => fail(String(err && err.stack ? err.stack : err)));
