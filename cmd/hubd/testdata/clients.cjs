// Real socket.io-client sockets, driven by the Go tests one JSON command
// per line on stdin; each command is answered with one JSON line carrying
// its id ({"id", "result"} or {"id", "error"}). Every event a socket
// receives is kept, in order, until a command takes it.
//
// Commands:
//   {"op":"connect","name","url","auth"}       -> the socket id
//   {"op":"emit","name","event","args"}        -> the ack's arguments
//   {"op":"until","name","event"}              -> the events received up
//        to and including the next one named event: [[name, ...args], ...]
//   {"op":"disconnected","name"}               -> the disconnect reason,
//        once the socket is disconnected
"use strict";
const readline = require("node:readline");
const { io } = require("socket.io-client");

const sockets = new Map(); // name -> {s, events, waiters, reason}
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");

const wake = (c) => {
  for (const w of c.waiters.splice(0)) w();
};

const ops = {
  connect: (c) =>
    new Promise((resolve, reject) => {
      const s = io(c.url, { auth: c.auth || {}, transports: ["websocket"], reconnection: false, forceNew: true });
      const entry = { s, events: [], waiters: [], reason: null };
      sockets.set(c.name, entry);
      s.onAny((name, ...args) => {
        entry.events.push([name, ...args]);
        wake(entry);
      });
      s.on("disconnect", (reason) => {
        entry.reason = reason;
        wake(entry);
      });
      s.on("connect", () => resolve(s.id));
      s.on("connect_error", (err) => reject(err));
    }),
  emit: (c) => sockets.get(c.name).s.timeout(25000).emitWithAck(c.event, ...(c.args || [])),
  until: (c) =>
    new Promise((resolve, reject) => {
      const entry = sockets.get(c.name);
      const t = setTimeout(() => reject(new Error(`${c.name}: no ${c.event} within 25s; got ${JSON.stringify(entry.events)}`)), 25000);
      const check = () => {
        const i = entry.events.findIndex((e) => e[0] === c.event);
        if (i < 0) return entry.waiters.push(check);
        clearTimeout(t);
        resolve(entry.events.splice(0, i + 1));
      };
      check();
    }),
  disconnected: (c) =>
    new Promise((resolve, reject) => {
      const entry = sockets.get(c.name);
      const t = setTimeout(() => reject(new Error(`${c.name}: still connected after 25s`)), 25000);
      const check = () => {
        if (entry.reason === null) return entry.waiters.push(check);
        clearTimeout(t);
        resolve(entry.reason);
      };
      check();
    }),
};

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  let c;
  try {
    c = JSON.parse(line);
    const result = await ops[c.op](c);
    say({ id: c.id, result: result === undefined ? null : result });
  } catch (e) {
    say({ id: c && c.id, error: String((e && e.message) || e) });
  }
});
process.stdin.on("end", () => {
  for (const { s } of sockets.values()) s.close();
  process.exit(0);
});
