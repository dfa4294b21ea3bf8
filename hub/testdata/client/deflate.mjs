// Drives the official socket.io-client over WebSocket for the compression
// tests (hub/deflate_compat_test.go). Under Node, socket.io-client's
// WebSocket is the ws package, which offers permessage-deflate and
// compresses what it sends from 1024 bytes up.
//
//   node deflate.mjs <server URL> <clients>
//
// Each client reports the parameters of the permessage-deflate its WebSocket
// negotiated (null: none), has a big
// string, a small one and a big binary value echoed through acks, says
// "ready", and reports the hashes of the two broadcasts the server then
// sends ("news", a big JSON object, and "blob", a big binary value).
// Prints JSON lines {"ev": name, ...}; a failure prints a reason on stderr
// and exits 1. Every wait is bounded: the script always exits.

import { createHash } from "node:crypto";
import { io } from "socket.io-client";

const [url, count] = process.argv.slice(2);
const WAIT = 15000;

function out(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}
function fail(msg) {
  process.stderr.write(`deflate: ${msg}\n`);
  process.exit(1);
}
process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
setTimeout(() => fail(`not finished after ${3 * WAIT} ms`), 3 * WAIT).unref();

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

// The same text and bytes as deflateText and deflateBytes in Go.
function text(n) {
  let s = "";
  for (let i = 0; s.length < n; i++) s += `{"id":${i},"user":"user${i % 7}","text":"hello there, message ${i}"},`;
  return s.slice(0, n);
}
function bytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251 < 200 ? i % 13 : i & 0xff;
  return b;
}

function timed(p, what) {
  return Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${WAIT} ms`)), WAIT))]);
}

async function client(i) {
  const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  s.on("connect_error", (e) => fail(`client ${i}: connect_error ${e.message}`));
  const news = new Promise((resolve) => s.once("news", resolve));
  const blob = new Promise((resolve) => s.once("blob", resolve));
  await timed(new Promise((resolve) => s.once("connect", resolve)), `client ${i} connect`);
  // What ws accepted from the server's answer: the extension and its
  // parameters.
  const ext = s.io.engine.transport.ws._extensions["permessage-deflate"];
  const extensions = ext ? Object.keys(ext.params).sort() : null;

  const big = text(4000);
  const bigBack = await timed(s.emitWithAck("echo", big), `client ${i} big echo`);
  const smallBack = await timed(s.emitWithAck("echo", "small"), `client ${i} small echo`);
  const bin = bytes(8000);
  const binBack = await timed(s.emitWithAck("echo", bin), `client ${i} binary echo`);
  s.emit("ready");
  const got = await timed(news, `client ${i} news`);
  const b = await timed(blob, `client ${i} blob`);
  out("client", {
    i,
    extensions,
    bigOK: bigBack === big,
    smallOK: smallBack === "small",
    binOK: Buffer.isBuffer(binBack) && binBack.equals(bin),
    news: sha256(JSON.stringify(got)),
    blob: sha256(b),
  });
  return s;
}

const sockets = await Promise.all(Array.from({ length: Number(count) }, (_, i) => client(i))).catch((e) => fail(e.message));
for (const s of sockets) s.disconnect();
out("end");
process.exit(0);
