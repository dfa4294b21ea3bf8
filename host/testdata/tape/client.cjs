// The client of the replay tape tests (host/tape_e2e_test.go and hubd's
// replay test), the real socket.io-client, against the policy of
// host/testdata/trace: a connect without a token (refused), then "ann"
// connects with a token, a PIN in her auth and secret headers, joins
// "lobby", asks for a private room (refused), shouts (transformed), sends a
// secret (refused), logs in with a password and rolls a die; then closes.
// The PIN, the headers' values and the password are what the tests have
// the tape redact. Prints "done" and exits 0, non-zero on anything
// unexpected.
//
// Usage: node client.cjs <base url>
"use strict";
const { fail, connect } = require("../client.cjs")("client", 60000, {
  extraHeaders: { authorization: "Bearer bearer-secret-7781", "x-api-secret": "header-secret-9924" },
});

(async () => {
  try {
    await connect({});
    fail("connected without a token");
  } catch (err) {
    if (err.message !== "token required") fail("connect_error " + err.message);
  }
  const ann = await connect({ token: "ann", pin: "pin-secret-4321" });
  await ann.emitWithAck("hub:join", "lobby");
  await ann.emitWithAck("hub:join", ["private:x"]);
  await ann.emitWithAck("shout", "hello");
  await ann.emitWithAck("secret", 1);
  await ann.emitWithAck("login", { user: "ann", password: "password-secret-5566" });
  await ann.emitWithAck("roll", 6);
  const closed = new Promise((resolve) => ann.on("disconnect", resolve));
  ann.close();
  await closed;
  console.log("done");
  process.exit(0);
})().catch((err) => fail(String(err && err.stack ? err.stack : err)));
