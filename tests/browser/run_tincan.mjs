// Drives headless Chromium (the system's /usr/bin/chromium) through playwright-core: opens the TinCanJS page
// given as argv[2] with a fresh profile in argv[3], waits for it to finish and prints its results as JSON.
import { chromium } from "playwright-core";

const [url, userDataDir] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await context.newPage();
  const console_ = [];
  page.on("console", (msg) => console_.push(`${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => console_.push(`pageerror: ${err.message}`));
  await page.goto(url);
  let finished = true;
  try {
    await page.waitForFunction(() => window.__done === true, null, { timeout: 90_000 });
  } catch (err) {
    finished = false;  // still report what the page got through, for the test's failure message
    console_.push(`driver: ${err.message}`);
  }
  const results = await page.evaluate(() => window.__results || []);
  process.stdout.write(JSON.stringify({ finished, results, console: console_.slice(-50) }) + "\n");
} finally {
  await context.close();
}
