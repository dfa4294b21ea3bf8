// browser.mjs: drives the chat page in a real browser (Debian's chromium via
// playwright-core). Two pages join as Ann and Bob; Ann sends a message and
// the script waits until Bob's page shows it, then prints what Bob saw as
// JSON on stdout and saves a screenshot of Bob's page.
//
//   node examples/chat/browser.mjs http://127.0.0.1:3000/ [screenshot.png [PROXIED_URL CONTROL_URL]]
//
// The screenshot defaults to <repo>/test-artifacts/chat.png.
//
// With PROXIED_URL (hubd behind a TCP proxy the caller owns) and
// CONTROL_URL (where POST /cut drops the proxy's connections and refuses
// new ones until POST /restore), it then checks connection state
// recovery: Cy joins through the proxy, the proxy is cut, Bob sends a
// message and waits for hubd's ack, the proxy is restored, and the script
// waits until Cy's page shows the message after its client reconnected.
// The JSON then has "recovery": what Cy saw and socket.recovered.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const base = process.argv[2];
const shot = process.argv[3] || join(here, "..", "..", "test-artifacts", "chat.png");
const [proxied, control] = process.argv.slice(4);
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
  const open = async (name, at = base) => {
    const page = await context.newPage();
    page.on("console", (m) => logs.push(`[${name}] ${m.type()}: ${m.text()}`));
    page.on("pageerror", (e) => logs.push(`[${name}] pageerror: ${e.message}`));
    await page.goto(new URL("?name=" + encodeURIComponent(name), at).href);
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
  // Presence: Ann's page tells that Bob joined.
  await ann.locator("#messages li.notice", { hasText: "Bob joined" }).waitFor({ timeout: 30_000 });

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
    notices: await ann.locator("#messages li.notice").allTextContents(),
  };

  mkdirSync(dirname(shot), { recursive: true });
  await bob.screenshot({ path: shot });
  seen.screenshot = shot;
  if (proxied) seen.recovery = await recovery(open, bob, logs);
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}

// recovery cuts Cy's connection, has Bob send a message meanwhile, and
// returns what Cy's page shows once its connection is back.
async function recovery(open, bob, logs) {
  const post = async (what) => {
    const res = await fetch(new URL(what, control), { method: "POST" });
    if (!res.ok) throw new Error(`POST ${what}: ${res.status} ${await res.text()}`);
  };
  const step = async (what, promise) => {
    try {
      return await promise;
    } catch (e) {
      throw new Error(`${what}: ${e.message}\n${logs.join("\n")}`);
    }
  };
  const cy = await open("Cy", proxied);
  const missed = "Sent while Cy was away " + Date.now();

  // The cut returns once hubd has seen Cy's connection go, which it sees
  // at once for a WebSocket; a session still on polling between two
  // requests would be noticed only at the heartbeat's timeout. So the cut
  // waits for the client's upgrade.
  await step("Cy's client never upgraded to WebSocket",
    cy.waitForSelector('body[data-transport="websocket"]', { timeout: 30_000 }));
  await post("cut");
  await step("Cy's page never saw the cut", cy.waitForSelector("body:not([data-ready])", { timeout: 30_000 }));
  // While hubd is out of reach the page says it is reconnecting; a red
  // error would mean the page gave up. Cy's client keeps retrying (the
  // proxy refuses it), so connect_error comes too.
  await step("Cy's page did not say it was reconnecting",
    cy.waitForSelector("#status.reconnecting", { timeout: 30_000 }));
  const away = { text: await cy.textContent("#status"), class: await cy.getAttribute("#status", "class") };
  await bob.fill("#text", missed);
  await bob.click("#send-button");
  // hubd acks once the room has the message, so it is kept for Cy.
  await step("hubd never acked Bob's message",
    bob.locator("#messages li.message.mine.delivered", { hasText: missed }).waitFor({ timeout: 30_000 }));
  await post("restore");

  const item = cy.locator("#messages li.message", { hasText: missed });
  await step("Cy's page never showed the message it missed", item.waitFor({ timeout: 30_000 }));
  await step("Cy's page never reconnected", cy.waitForSelector("body[data-ready]", { timeout: 30_000 }));
  // Bob saw Cy leave with the cut and come back with the recovery.
  await step("Bob's page never showed Cy back",
    bob.locator("#messages li.notice", { hasText: "Cy joined" }).nth(1).waitFor({ timeout: 30_000 }));
  return {
    name: await item.locator(".name").textContent(),
    text: await item.locator(".text").textContent(),
    sent: missed,
    recovered: await cy.evaluate(() => document.body.dataset.recovered),
    status: await cy.textContent("#status"),
    away,
    bob_notices: await bob.locator("#messages li.notice").allTextContents(),
  };
}
