// The README's screenshot of the board: signs in to a running console (`./dev run`) and
// saves the board. Usage: node readme-screenshot.mjs URL USER PASSWORD OUT.png
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const [url, user, password, out] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'wk-shot-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 640 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = context.pages()[0] || await context.newPage();
  await page.goto(url);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(url), page.click('button[type=submit]')]);
  await page.locator('#live-state.ok').waitFor({ timeout: 10000 });
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.screenshot({ path: out });
} finally {
  await context.close();
}
