// Drives the host's end-to-end test with the real socket.io-client: a
// connect refused by a plugin, a join refused, an event transformed on its
// way to another client, and a plugin's reply as the ack. Prints one JSON
// line per observation; exits non-zero on anything unexpected.
"use strict";
const { out, fail, connect } = require("./client.cjs")("e2e-client", 50000);

(async () => {
  try {
    await connect({});
    fail("connected without a token");
  } catch (err) {
    out("connect_error", { message: err.message, data: err.data });
  }

  const ann = await connect({ token: "ann" });
  const bob = await connect({ token: "bob" });
  out("join", await ann.emitWithAck("hub:join", "lobby"));
  out("join", await bob.emitWithAck("hub:join", "lobby"));
  out("join_private", await ann.emitWithAck("hub:join", ["private:x", "lobby"]));

  const received = new Promise((resolve) => bob.on("shout", (...args) => resolve(args)));
  out("shout_ack", await ann.emitWithAck("shout", "hello"));
  out("shout_received", await received);
  out("ping_ack", await ann.emitWithAck("ping"));

  ann.close();
  bob.close();
  process.exit(0);
})().catch((err) => fail(String(err && err.stack ? err.stack : err)));
