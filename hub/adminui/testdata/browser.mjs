// browser.mjs: drives the admin UI's page in a real browser (Debian's
// chromium via playwright-core). The page, served from one origin, logs in
// to a Socket.IO server on another (basic auth), which must answer its
// long-polling with CORS; the script waits until the Sockets page lists the
// socket it is told of and the Rooms page its room, makes that socket join
// a room with the socket page's own form, and emits to it through the
// page's admin connection. It prints what it saw as JSON on stdout and
// saves a screenshot of the Sockets page.
//
//   node browser.mjs <page URL> <server URL> <user> <password> <socket id> <room> <screenshot.png>
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { chromium } from "playwright-core";

const [page_url, server, user, password, socketID, room, shot] = process.argv.slice(2);
if (!shot) {
  console.error("usage: node browser.mjs <page URL> <server URL> <user> <password> <socket id> <room> <screenshot.png>");
  process.exit(2);
}
const WAIT = 30_000; // a bound only: a loaded machine is slow

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
  ],
});
const logs = [];
const step = async (what, promise) => {
  try {
    return await promise;
  } catch (e) {
    throw new Error(`${what}: ${e.message}\n${logs.join("\n")}`);
  }
};
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // The page links web fonts and icons from CDNs: not needed, and the
  // test machine may have no way out.
  await context.route((url) => !["127.0.0.1", "localhost"].includes(url.hostname), (r) => r.abort());
  const page = await context.newPage();
  page.on("console", (m) => logs.push(`console ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  page.on("requestfailed", (r) => {
    if (["127.0.0.1", "localhost"].includes(new URL(r.url()).hostname)) logs.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  await step("the page did not load", page.goto(page_url));
  await step("no login form", page.getByLabel("Server URL").waitFor({ timeout: WAIT }));

  // Keep the page's admin socket, to emit through it: the UI 0.5 has no
  // form for emits (the server side has the feature).
  await page.evaluate(() => {
    const app = document.querySelector("#app").__vue__.$children[0];
    const register = app.registerEventListeners;
    app.registerEventListeners = function (socket) {
      window.adminSocket = socket;
      return register.call(this, socket);
    };
  });
  await page.getByLabel("Server URL").fill(server);
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Connect" }).click();
  await step("the UI did not connect",
    page.waitForFunction(() => window.adminSocket && window.adminSocket.connected, null, { timeout: WAIT }));

  await page.goto(new URL("#/sockets/", page_url).href);
  const row = page.locator("tbody tr", { hasText: socketID });
  await step(`the Sockets page shows no socket ${socketID}`, row.waitFor({ timeout: WAIT }));
  const rows = await page.locator("tbody tr").allTextContents();
  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });

  await page.goto(new URL("#/rooms/", page_url).href);
  await step(`the Rooms page shows no room ${room}`,
    page.locator("tbody tr", { hasText: room }).first().waitFor({ timeout: WAIT }));
  const rooms = await page.locator("tbody tr").allTextContents();

  // The socket page's own form: join a room.
  await page.goto(new URL(`#/n/${encodeURIComponent("/")}/sockets/${socketID}`, page_url).href);
  const joinField = page.getByLabel("Join a room");
  await step("the socket page has no join form", joinField.waitFor({ timeout: WAIT }));
  await joinField.fill("joined-from-the-ui");
  await page.locator("form", { has: joinField }).locator('button[type="submit"]').click();
  await step("the socket page never showed the room joined",
    page.locator("tbody tr", { hasText: "joined-from-the-ui" }).waitFor({ timeout: WAIT }));

  await page.evaluate((id) => window.adminSocket.emit("emit", "/", id, "news", "from the admin UI"), socketID);
  console.log(JSON.stringify({ rows, rooms, screenshot: shot }));
} finally {
  await browser.close();
}
