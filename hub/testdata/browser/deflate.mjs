// Drives Debian's Chromium (through playwright-core) against a hub with
// WebSocket compression for hub/deflate_browser_test.go.
//
//   node deflate.mjs <page URL> <bytes>
//
// The page (served by the test, with the socket.io-client bundle the hub
// serves) connects over WebSocket only, sends a string of <bytes> with an
// ack, says "ready" and waits for the server's "news" broadcast. Prints one
// JSON line: the extensions the browser's WebSocket negotiated, the ack
// (the length and SHA-256 the server read) and the news' length and
// SHA-256. A failure prints a reason on stderr and exits 1; every wait is
// bounded.
import { run } from "./run.mjs";

const [url, size] = process.argv.slice(2);
if (!url || !size) {
  console.error("usage: node deflate.mjs <page URL> <bytes>");
  process.exit(2);
}
await run("deflate", url, async (n) => {
  const hex = async (s) => {
    const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
    return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
  };
  // The same text as deflateText in Go.
  let text = "";
  for (let i = 0; text.length < n; i++) text += `{"id":${i},"user":"user${i % 7}","text":"hello there, message ${i}"},`;
  text = text.slice(0, n);
  const s = io({ transports: ["websocket"], reconnection: false, timeout: 20000 });
  const within = (p, what) =>
    Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not within 20 s`)), 20000))]);
  const news = new Promise((resolve) => s.once("news", resolve));
  await within(new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  }), "connect");
  const extensions = s.io.engine.transport.ws.extensions;
  const ack = await within(s.emitWithAck("big", text), "the ack");
  s.emit("ready");
  const got = JSON.stringify(await within(news, "the news"));
  s.disconnect();
  return { extensions, sent: await hex(text), ack, newsLength: got.length, news: await hex(got) };
}, Number(size));
