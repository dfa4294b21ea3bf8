// What the host's Node test clients share (e2e-client.cjs, trace/,
// shadow/, tape/): the server's URL (the first argument), out and fail for
// their output, a bound against hangs, and connect, which opens a new
// socket.io-client connection over WebSocket with no reconnection and
// resolves once connected (rejects with the connect_error).
"use strict";
const { io } = require("socket.io-client");

// client returns the helpers of a script called name, which fails when it
// has not ended after timeoutMs; options are added to every connection's.
module.exports = function client(name, timeoutMs, options = {}) {
  const url = process.argv[2];
  const out = (kind, value) => console.log(JSON.stringify({ kind, value }));
  const fail = (why) => {
    console.error(name + ": " + why);
    process.exit(1);
  };
  // A bound against hangs, far above what a loaded machine needs.
  setTimeout(() => fail("timed out"), timeoutMs).unref();
  const connect = (auth) =>
    new Promise((resolve, reject) => {
      const s = io(url, { auth, transports: ["websocket"], reconnection: false, forceNew: true, ...options });
      s.on("connect", () => resolve(s));
      s.on("connect_error", (err) => {
        s.close();
        reject(err);
      });
    });
  return { url, out, fail, connect };
};
