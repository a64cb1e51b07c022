// What the browser tests share: Debian's Chromium with a fresh profile per browser, bounded
// checks, signing in to the console, and axe-core's accessibility check.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing ${name}`);
  return value;
};

export const step = (text) => console.log(`-- ${text}`);

export function check(condition, message) {
  if (!condition) throw new Error(`FAILED: ${message}`);
}

// Chromium itself has crashed while starting (SIGSEGV before its first page, once in a
// loaded CI run): what is under test is the console, not the browser's start-up, so a
// launch that fails is tried again, at most three times, each with a fresh profile.
const LAUNCHES = 3;

export async function browser() {
  for (let attempt = 1; ; attempt += 1) {
    // A fresh profile per browser: two officers, two cookie jars.
    const dir = mkdtempSync(join(tmpdir(), 'wk-chromium-'));
    try {
      return await chromium.launchPersistentContext(dir, {
        executablePath: process.env.WK_CHROMIUM || '/usr/bin/chromium',
        headless: true,
        viewport: { width: 1440, height: 900 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    } catch (error) {
      if (attempt >= LAUNCHES) throw error;
      console.error(`chromium did not start (attempt ${attempt} of ${LAUNCHES}): ${error.message.split('\n')[0]}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

// Records page errors and console errors (a CSP violation is one) in `pageErrors`.
export function watchErrors(page, who, pageErrors) {
  page.on('pageerror', (error) => pageErrors.push(`${who}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(`${who}: console: ${message.text()}`);
  });
}

// signIn(context, user, password) for the console at `consoleUrl`: its board, open and live.
export function signInTo(consoleUrl, pageErrors) {
  return async function signIn(context, user, password) {
    const page = context.pages()[0] || await context.newPage();
    watchErrors(page, user, pageErrors);
    await page.goto(consoleUrl);
    check(page.url().endsWith('/console/sign-in'), `not sent to sign-in: ${page.url()}`);
    await page.fill('#user', user);
    await page.fill('#password', password);
    await Promise.all([page.waitForURL(consoleUrl), page.click('button[type=submit]')]);
    await page.locator('#live-state.ok').waitFor({ timeout: 10000 });
    return page;
  };
}

export async function axeCheck(page, what, figures) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) console.log(`axe ${what}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.length} nodes)`);
  check(bad.length === 0, `${what}: ${bad.length} serious or critical accessibility violations`);
  figures[`axe_${what}_violations_minor_or_moderate`] = results.violations.length;
}
