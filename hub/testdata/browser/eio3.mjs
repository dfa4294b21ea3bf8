// Drives Debian's Chromium (through playwright-core) with socket.io-client
// 2.x against a hub with AllowEIO3, for hub/client2_browser_test.go: a
// browser's XHR reads binary, so over polling it sends and gets binary
// payloads (application/octet-stream), which Node's client never does.
//
//   node eio3.mjs <page URL>
//
// The page (served by the test, with the 2.x bundle) connects over polling
// only, emits a binary value with an ack (the server acks it back), asks
// for a binary event and disconnects. Prints one JSON line: the ack's bytes,
// the event's bytes, the transport. A failure prints a reason on stderr and
// exits 1; every wait is bounded.
import { run } from "./run.mjs";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node eio3.mjs <page URL>");
  process.exit(2);
}
await run("eio3", url, async () => {
  const within = (p, what) =>
    Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within 20 s`)), 20000))]);
  const bytes = (v) => Array.from(new Uint8Array(v instanceof ArrayBuffer ? v : v.buffer));
  const s = io({ transports: ["polling"], reconnection: false, timeout: 20000 });
  await within(new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
    s.once("error", reject);
  }), "connect");
  // An ArrayBuffer: the 2.x client sees no binary in a typed array.
  const ack = await within(new Promise((resolve) => s.emit("bin", new Uint8Array([0, 1, 2, 255]).buffer, "text", resolve)), "the ack");
  const pushed = new Promise((resolve) => s.once("pushed", resolve));
  s.emit("push");
  const got = await within(pushed, "the pushed event");
  const transport = s.io.engine.transport.name;
  s.close();
  return { ack: bytes(ack), pushed: bytes(got), transport };
});
