// The clients of TestRevoke (host/revoke_e2e_test.go), the real
// socket.io-client: ann joins vip and news on the first server; bob joins
// vip and news, cat joins vip, on the second. Each prints one JSON line
// per observation: "ready" with the ids, then "revoked" (the hub:revoked
// event) and "disconnect" as they come. On each stdin line "rooms" every
// client still connected prints its membership ("rooms", from hub:leave of
// a room it is not in, which answers the whole membership); on "kick
// <JSON>" ann emits "kick" with the value and prints its ack ("kicked");
// "exit" ends.
//
// Usage: node client.cjs <url of server A> <url of server B>
"use strict";
const readline = require("node:readline");
const { io } = require("socket.io-client");

const [urlA, urlB] = process.argv.slice(2);
const out = (kind, who, value) => console.log(JSON.stringify({ kind, who, value }));
const fail = (why) => {
  console.error("client: " + why);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 120000).unref();

const connect = (name, url) =>
  new Promise((resolve, reject) => {
    const s = io(url, { auth: { user: name }, transports: ["websocket"], reconnection: false, forceNew: true });
    s.on("connect", () => resolve(s));
    s.on("connect_error", reject);
    s.on("hub:revoked", (notice) => out("revoked", name, notice));
    s.on("disconnect", (reason) => out("disconnect", name, reason));
  });

const join = async (s, rooms) => {
  const ack = await s.emitWithAck("hub:join", rooms);
  if (!ack.ok) fail("join " + rooms + ": " + ack.error);
};

(async () => {
  const clients = {
    ann: await connect("ann", urlA),
    bob: await connect("bob", urlB),
    cat: await connect("cat", urlB),
  };
  await join(clients.ann, ["vip", "news"]);
  await join(clients.bob, ["vip", "news"]);
  await join(clients.cat, ["vip"]);
  out("ready", "", Object.fromEntries(Object.entries(clients).map(([n, s]) => [n, s.id])));
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line === "exit") break;
    if (line.startsWith("kick ")) {
      out("kicked", "", await clients.ann.emitWithAck("kick", JSON.parse(line.slice(5))));
      continue;
    }
    if (line !== "rooms") fail("unknown command " + line);
    const rooms = {};
    for (const [name, s] of Object.entries(clients)) {
      if (!s.connected) continue;
      const ack = await s.emitWithAck("hub:leave", "none");
      if (!ack.ok) fail("hub:leave: " + ack.error);
      rooms[name] = ack.rooms;
    }
    out("rooms", "", rooms);
  }
  for (const s of Object.values(clients)) s.close();
  process.exit(0);
})().catch((err) => fail(String(err && err.stack ? err.stack : err)));
