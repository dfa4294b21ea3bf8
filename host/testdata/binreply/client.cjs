// The client of TestBinaryReply (host/binreply_test.go), the real
// socket.io-client: emits "echo" with a Buffer, then with a string, each
// with an ack, and prints one JSON line per answer: whether the echo came
// back as a Buffer, its bytes (or value) and the argument count the hook
// saw.
//
// Usage: node client.cjs <base url>
"use strict";
const { io } = require("socket.io-client");

setTimeout(() => {
  console.error("client: timed out");
  process.exit(1);
}, 60000).unref();

const s = io(process.argv[2], { transports: ["websocket"], reconnection: false });
s.on("connect_error", (err) => {
  console.error("client: " + err.message);
  process.exit(1);
});
s.on("connect", async () => {
  for (const args of [[Buffer.from([1, 2, 3, 255]), "second"], ["hi"]]) {
    const got = await s.timeout(30000).emitWithAck("echo", ...args);
    const echo = got && got.echo;
    console.log(JSON.stringify({
      buffer: Buffer.isBuffer(echo),
      value: Buffer.isBuffer(echo) ? [...echo] : echo,
      n: got && got.n,
    }));
  }
  s.close();
});
