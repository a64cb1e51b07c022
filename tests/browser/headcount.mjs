// A staff headcount in Debian's Chromium, against the stack tests/e2e/headcounts.rs started:
// two people answer from the links in their mail (the confirmation page, then the button;
// "I need help" with what happened and where), and a duty officer sees the counts on the
// headcount's page. Every wait is bounded; exits non-zero on the first failure.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { axeCheck, browser, check, env, signInTo, step, watchErrors } from './common.mjs';

const CONSOLE = env('WK_CONSOLE_URL');
const SHOTS = env('WK_SCREENSHOTS');
mkdirSync(SHOTS, { recursive: true });
const figures = {};
const pageErrors = [];

const staff = await browser();
const officer = await browser();
try {
  step("the duty officer opens the headcount's page: nobody has answered yet");
  const signIn = signInTo(CONSOLE, pageErrors);
  const board = await signIn(officer, env('WK_OFFICER'), env('WK_OFFICER_PASSWORD'));
  await board.goto(`${CONSOLE}headcounts/${env('WK_HEADCOUNT')}`);
  const allCounts = async () => board.locator('#counts tr[data-counts=all] td').allTextContents();
  check((await allCounts())[0] === '0', `counts before any answer: ${await allCounts()}`);

  const page = staff.pages()[0] || await staff.newPage();
  watchErrors(page, 'staff', pageErrors);
  step('a person opens "I am safe" from the mail: a confirmation page, nothing recorded yet');
  await page.goto(env('WK_LINK_SAFE'));
  check((await page.title()).startsWith('I am safe'), `title: ${await page.title()}`);
  await axeCheck(page, 'answer_page', figures);
  await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
  await page.getByText('knows you are safe').waitFor({ timeout: 10000 });

  step('another opens "I need help", says what happened and where, and sends it');
  await page.goto(env('WK_LINK_HELP'));
  await page.fill('#text', 'Twisted ankle, cannot walk');
  await page.fill('#place', 'Guest house, room 4');
  await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
  await page.getByText('has been alerted').waitFor({ timeout: 10000 });

  step("the officer's open page shows both answers without a reload");
  const started = Date.now();
  let counted = false;
  while (!counted && Date.now() - started < 30000) {
    const all = await allCounts();
    counted = all[0] === '1' && all[1] === '1';
    if (!counted) await board.waitForTimeout(250);
  }
  check(counted, `the counts never showed one safe and one in need of help: ${await allCounts()}`);
  figures.headcount_live_update_ms = Date.now() - started;
  const helped = await board.locator('tr.standing-need-help').first().textContent();
  check(helped.includes('Guest house, room 4'), `need-help row: ${helped}`);
  await axeCheck(board, 'headcount_page', figures);
  await board.screenshot({ path: join(SHOTS, 'headcount.png'), fullPage: true });

  step("the call for help is an alert; from its page the officer starts a headcount for it");
  const help = env('WK_HELP_ALERT');
  let found = false;
  for (let attempt = 0; attempt < 40 && !found; attempt += 1) {
    const response = await board.goto(`${CONSOLE}alerts/${help}`);
    found = response.status() === 200;
    if (!found) await board.waitForTimeout(250);
  }
  check(found, `the call for help ${help} is not in the console`);
  check((await board.title()).includes('Jean Dupont'), `alert page: ${await board.title()}`);
  await Promise.all([board.waitForURL(/headcounts\?alert=/), board.click('#start-headcount-for-alert')]);
  check(await board.inputValue('#alert_id') === help, 'the alert is prefilled');
  check(await board.inputValue('#country') === 'NG', 'its country is prefilled');

  check(pageErrors.length === 0, `script errors or CSP violations: ${pageErrors.join('; ')}`);
  console.log(`FIGURES ${JSON.stringify(figures)}`);
} finally {
  await Promise.allSettled([staff.close(), officer.close()]);
}
