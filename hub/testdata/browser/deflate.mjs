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
import { chromium } from "playwright-core";

const [url, size] = process.argv.slice(2);
if (!url || !size) {
  console.error("usage: node deflate.mjs <page URL> <bytes>");
  process.exit(2);
}
setTimeout(() => {
  console.error("deflate: not finished after 90 s");
  process.exit(1);
}, 90_000).unref();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let status = 0;
try {
  const page = await browser.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  const result = await page.evaluate(async (n) => {
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
  process.stdout.write(JSON.stringify(result) + "\n");
  if (logs.length) console.error(logs.join("\n"));
} catch (e) {
  console.error(`deflate: ${e.stack ?? e}`);
  status = 1;
} finally {
  await browser.close();
}
process.exit(status);
