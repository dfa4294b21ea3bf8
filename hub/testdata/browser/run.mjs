// run.mjs: what the browser scripts here share. run(name, url, fn, arg)
// starts Debian's Chromium (through playwright-core), opens url, runs fn
// in the page with arg, prints its result as one JSON line and exits 0;
// a failure prints a reason on stderr and exits 1. The whole run is
// bounded (90 s) and the page's console goes to stderr.
import { chromium } from "playwright-core";

export async function run(name, url, fn, arg) {
  setTimeout(() => {
    console.error(`${name}: not finished after 90 s`);
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
    const result = await page.evaluate(fn, arg);
    process.stdout.write(JSON.stringify(result) + "\n");
    if (logs.length) console.error(logs.join("\n"));
  } catch (e) {
    console.error(`${name}: ${e.stack ?? e}`);
    status = 1;
  } finally {
    await browser.close();
  }
  process.exit(status);
}
