// browser.mjs: drives the chat page in a real browser (Debian's chromium via
// playwright-core). Two pages join as Ann and Bob; Ann sends a message and
// the script waits until Bob's page shows it, then prints what Bob saw as
// JSON on stdout and saves a screenshot of Bob's page.
//
//   node examples/chat/browser.mjs http://127.0.0.1:3000/ [screenshot.png]
//
// The screenshot defaults to <repo>/test-artifacts/chat.png.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const base = process.argv[2];
const shot = process.argv[3] || join(here, "..", "..", "test-artifacts", "chat.png");
if (!base) {
  console.error("usage: node browser.mjs <url> [screenshot.png]");
  process.exit(2);
}
const text = "Hello from Ann " + Date.now();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 720, height: 480 } });
  const logs = [];
  const open = async (name) => {
    const page = await context.newPage();
    page.on("console", (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[${name}] pageerror: ${e.message}`));
    await page.goto(new URL("?name=" + encodeURIComponent(name), base).href);
    try {
      await page.waitForSelector("body[data-ready]", { timeout: 30_000 });
    } catch (e) {
      const status = await page.textContent("#status").catch(() => "?");
      throw new Error(`${name}'s page did not join the room (status: ${status})\n${logs.join("\n")}`);
    }
    return page;
  };
  const ann = await open("Ann");
  const bob = await open("Bob");

  await ann.fill("#text", text);
  await ann.click("#send-button");

  const item = bob.locator("#messages li.message", { hasText: text });
  await item.waitFor({ timeout: 30_000 });
  const seen = {
    name: await item.locator(".name").textContent(),
    time: await item.locator("time").getAttribute("datetime"),
    shown_time: await item.locator("time").textContent(),
    text: await item.locator(".text").textContent(),
    sent: text,
    status: await bob.textContent("#status"),
  };

  mkdirSync(dirname(shot), { recursive: true });
  await bob.screenshot({ path: shot });
  seen.screenshot = shot;
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
