// Browser end-to-end test of the web console, in Debian's Chromium, against the real stack
// that tests/e2e/console.rs started (Tansu, SMTP sink, watchkeeper). Alerts are submitted over
// gRPC by `watchkeeper send`, as a field office would. Exits non-zero on the first failure;
// prints `FIGURES {...}` for the Rust side. Every wait is bounded.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { axeCheck, browser, check, env, signInTo, step } from './common.mjs';

const CONSOLE = env('WK_CONSOLE_URL'); // http://127.0.0.1:PORT/console/
const BIN = env('WK_BIN');
const API = env('WK_API');
const OFFICE = env('WK_OFFICE');
const OFFICE_TOKEN = env('WK_OFFICE_TOKEN');
const SHOTS = env('WK_SCREENSHOTS');
const RUN = env('WK_RUN'); // unique per run: dedup keys and titles
mkdirSync(SHOTS, { recursive: true });

const figures = {};
const pageErrors = [];
const signIn = signInTo(CONSOLE, pageErrors);
const noSeriousViolations = (page, what) => axeCheck(page, what, figures);

function send(args) {
  const out = execFileSync(BIN, ['send', '--json', '--server', API, '--token', OFFICE_TOKEN,
    '--office', OFFICE, '--country', 'NG', '--place', 'Maiduguri', ...args], { encoding: 'utf8' });
  return JSON.parse(out).alert_id;
}

const manilaBrowser = await browser();
const panamaBrowser = await browser();
const officeBrowser = await browser();
try {
  step('the Manila and Panama duty officers sign in');
  const manila = await signIn(manilaBrowser, env('WK_OFFICER'), env('WK_OFFICER_PASSWORD'));
  const panama = await signIn(panamaBrowser, env('WK_PANAMA_OFFICER'), env('WK_PANAMA_OFFICER_PASSWORD'));

  // Keeps the page's event streams within reach, so the test can hand the board a `reload`
  // (what the server sends when a stream cannot resume, as after the console restarts).
  await manila.addInitScript(() => {
    window.__streams = [];
    window.EventSource = class extends window.EventSource {
      constructor(...args) { super(...args); window.__streams.push(this); }
    };
  });

  step('the board carries a strict CSP');
  const response = await manila.goto(CONSOLE);
  const csp = response.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'), `CSP: ${csp}`);
  await manila.locator('#live-state.ok').waitFor({ timeout: 10000 });

  step('an earlier alert is on the board; the officer selects it and some text on the page');
  const earlier = send(['--severity', 'warning', '--title', `Road block on the A3 ${RUN}`, '--dedup-key', `earlier-${RUN}`]);
  await manila.locator(`#alert-${earlier}`).waitFor({ timeout: 15000 });
  await manila.click('#sound-arm');
  await manila.evaluate(() => { window.__notReloaded = true; });
  await manila.keyboard.press('j');
  const selectedBefore = await manila.locator('tr.selected').getAttribute('data-id');
  check(selectedBefore, 'j selects a row');
  const selectedText = await manila.evaluate((id) => {
    const cell = document.querySelector(`#alert-${id} td.title a`);
    const range = document.createRange();
    range.selectNodeContents(cell);
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    return window.getSelection().toString();
  }, earlier);
  check(selectedText.includes('Road block'), 'text selected');
  // The selected alert's own row changes (the office repeats it: its count goes to 2); the
  // row is brought up to date in place, so the selected title text stays selected.
  const repeated = send(['--severity', 'warning', '--title', `Road block on the A3 ${RUN}`, '--dedup-key', `earlier-${RUN}`]);
  check(repeated === earlier, 'a repeat is the same alert');
  await manila.waitForFunction((id) => document.querySelector(`#alert-${id} td.count`)?.textContent.trim() === '2',
    earlier, { timeout: 10000 });
  check((await manila.evaluate(() => window.getSelection().toString())) === selectedText,
    'text selection kept through its own row\'s update');
  // The whole list is fetched again: the rows are brought up to date in place, so the
  // selected row and the selected text stay (the list used to be replaced wholesale).
  const streams = await manila.evaluate(() => {
    const count = window.__streams.length;
    window.__streams[count - 1].dispatchEvent(new MessageEvent('reload', { data: '{}' }));
    return count;
  });
  await manila.waitForFunction((count) => window.__streams.length > count, streams, { timeout: 10000 });
  await manila.locator('#live-state.ok').waitFor({ timeout: 10000 });
  check(await manila.locator('tr.selected').getAttribute('data-id') === selectedBefore, 'selection kept through a reload');
  check((await manila.evaluate(() => window.getSelection().toString())) === selectedText,
    'text selection kept through a reload');

  step('a critical alert submitted over gRPC appears on both open boards without reload');
  const title = `Armed men at the compound gate ${RUN}`;
  const sent = Date.now();
  const id = send(['--severity', 'critical', '--title', title, '--dedup-key', `gate-${RUN}`,
    '--latitude', '11.8464', '--longitude', '13.1603', '--staff-affected', '12', '--label', 'team=wash']);
  const accepted = Date.now();
  await manila.locator(`#alert-${id}`).waitFor({ timeout: 10000 });
  figures.board_appears_ms = Date.now() - accepted;
  await panama.locator(`#alert-${id}`).waitFor({ timeout: 10000 });
  figures.board_appears_second_console_ms = Date.now() - accepted;
  figures.submit_ms = accepted - sent;
  check(figures.board_appears_ms <= 2000, `alert appeared after ${figures.board_appears_ms} ms (more than 2 s)`);
  check(await manila.evaluate(() => window.__notReloaded === true), 'the page was not reloaded');
  check(await manila.locator('tr.selected').getAttribute('data-id') === selectedBefore, 'selection kept');
  check((await manila.evaluate(() => window.getSelection().toString())) === selectedText, 'text selection kept');
  // Tiles (and the title's count) follow within a second of a change.
  await manila.waitForFunction(() => document.title.startsWith('(2) '), null, { timeout: 5000 });

  step('the sound repeats while the critical alert is unacknowledged');
  await manila.waitForFunction(() => Number(document.body.dataset.beeps || 0) >= 1, null, { timeout: 10000 });
  check(await manila.evaluate(() => document.body.dataset.alarm) === '1', 'alarm condition on');

  await manila.screenshot({ path: join(SHOTS, 'board.png'), fullPage: false });
  await noSeriousViolations(manila, 'board');

  step('the Manila officer acknowledges it with the keyboard');
  // Critical sorts above the warning: k moves up to it.
  for (let i = 0; i < 5; i += 1) {
    if (await manila.locator('tr.selected').getAttribute('data-id') === id) break;
    await manila.keyboard.press('k');
  }
  check(await manila.locator('tr.selected').getAttribute('data-id') === id, 'the new alert is selected');
  const acked = Date.now();
  await manila.keyboard.press('a');
  await manila.locator(`#alert-${id}[data-status="st-acknowledged"]`).waitFor({ timeout: 15000 });
  figures.acknowledged_on_own_board_ms = Date.now() - acked;
  step("Panama's board shows the acknowledgement live");
  await panama.locator(`#alert-${id}[data-status="st-acknowledged"]`).waitFor({ timeout: 15000 });
  figures.acknowledged_on_panama_board_ms = Date.now() - acked;
  const by = await panama.locator(`#alert-${id} td.by`).innerText();
  check(by.includes(env('WK_OFFICER')) && by.includes('console'), `acknowledged by: ${by}`);
  await manila.waitForFunction(() => document.body.dataset.alarm === '0', null, { timeout: 10000 });

  step('the alert page shows the timeline with actor and channel');
  await manila.keyboard.press('Enter');
  await manila.waitForURL(/\/console\/alerts\//, { timeout: 10000 });
  const timeline = await manila.locator('table.timeline').innerText();
  check(/Acknowledged\s+maria\.santos\s+console/.test(timeline.replace(/\t/g, ' ')), `timeline: ${timeline}`);
  check((await manila.locator('a[href*="openstreetmap"]').count()) === 1, 'map link for the coordinates');
  await manila.screenshot({ path: join(SHOTS, 'alert.png'), fullPage: true });
  await noSeriousViolations(manila, 'alert_page');

  step('a note added in Panama appears live on the alert page in Manila');
  await panama.goto(`${CONSOLE}alerts/${id}`);
  await panama.fill('#note', `Called the guard post ${RUN}`);
  await Promise.all([panama.waitForURL(`${CONSOLE}alerts/${id}`), panama.click('form.note button')]);
  await manila.locator('table.timeline', { hasText: `Called the guard post ${RUN}` }).waitFor({ timeout: 15000 });

  step('hostile text renders as text and runs nothing');
  const dialogs = [];
  manila.on('dialog', (dialog) => { dialogs.push(dialog.message()); dialog.dismiss(); });
  await manila.goto(CONSOLE);
  await manila.locator('#live-state.ok').waitFor({ timeout: 10000 });
  const hostileTitle = `<script>window.__pwned=1;alert(1)</script> ${RUN}`;
  const hostile = send(['--severity', 'emergency', '--title', hostileTitle, '--dedup-key', `hostile-${RUN}`,
    '--description', '"><img src=x onerror="window.__pwned=2">',
    '--label', `note="><img src=x onerror="window.__pwned=3;alert(3)">`]);
  await manila.locator(`#alert-${hostile}`).waitFor({ timeout: 15000 });
  check((await manila.locator(`#alert-${hostile} td.title a`).innerText()).includes('<script>window.__pwned=1'), 'shown as text on the board');
  await manila.goto(`${CONSOLE}alerts/${hostile}`);
  check((await manila.locator('h1').innerText()).includes('<script>'), 'shown as text on the alert page');
  check((await manila.locator('img').count()) === 0, 'no image element injected');
  check(await manila.evaluate(() => window.__pwned === undefined), 'no injected script ran');
  check(dialogs.length === 0, `no dialog opened: ${dialogs}`);

  step('the field office signs in and sees its alert acknowledged');
  const office = await signIn(officeBrowser, OFFICE, env('WK_OFFICE_PASSWORD'));
  await office.locator(`#alert-${id}[data-status="st-acknowledged"]`).waitFor({ timeout: 10000 });
  check((await office.locator('#bulk').count()) === 0, 'an office has no acknowledge button');

  step('the offices page follows a watch live; a duty officer pauses it there');
  const watched = env('WK_WATCHED_OFFICE');
  await manila.goto(`${CONSOLE}offices`);
  await manila.locator('#live-state.ok').waitFor({ timeout: 10000 });
  const row = manila.locator(`tr[data-office="${watched}"]`);
  check(await row.evaluate((tr) => tr.classList.contains('watch-new')), 'never checked in: new');
  execFileSync(BIN, ['check-in', '--server', API, '--token', env('WK_WATCHED_TOKEN'), '--office', watched,
    '--status', `all well ${RUN}`], { encoding: 'utf8', timeout: 30000 });
  // No reload: the table comes again over the event stream.
  await manila.locator(`tr[data-office="${watched}"]:not(.watch-new)`, { hasText: `via cli: all well ${RUN}` })
    .waitFor({ timeout: 15000 });
  await noSeriousViolations(manila, 'offices_page');
  await manila.screenshot({ path: join(SHOTS, 'offices.png'), fullPage: true });
  await manila.fill(`#reason-${watched}`, 'VSAT maintenance, called the office');
  await Promise.all([manila.waitForURL(`${CONSOLE}offices`), manila.click(`tr[data-office="${watched}"] form button`)]);
  await manila.locator(`tr[data-office="${watched}"].watch-paused`, { hasText: 'VSAT maintenance' })
    .waitFor({ timeout: 15000 });

  step('a duty officer previews and creates a silence; the held alert is badged live; expiring it pages it');
  await manila.goto(`${CONSOLE}silences`);
  await manila.fill('#matchers', `office="${OFFICE}"\nseverity="warning"`);
  await manila.fill('#duration', '1h');
  await manila.fill('#comment', `generator test ${RUN}`);
  await Promise.all([manila.waitForURL(`${CONSOLE}silences/preview`), manila.click('#preview-silence')]);
  await manila.locator('#preview-title').waitFor({ timeout: 10000 });
  check((await manila.inputValue('#comment')) === `generator test ${RUN}`, 'the form is kept through a preview');
  await noSeriousViolations(manila, 'silences_page');
  await Promise.all([manila.waitForURL(`${CONSOLE}silences`), manila.click('#create-silence')]);
  const silenceRow = manila.locator('tr.silence-active', { hasText: `generator test ${RUN}` });
  await silenceRow.waitFor({ timeout: 10000 });
  await manila.screenshot({ path: join(SHOTS, 'silences.png'), fullPage: true });
  await manila.goto(CONSOLE);
  await manila.locator('#live-state.ok').waitFor({ timeout: 10000 });
  const quiet = send(['--severity', 'warning', '--title', `Generator test ${RUN}`, '--dedup-key', `gen-${RUN}`]);
  await manila.locator(`#alert-${quiet} .silence-badge`, { hasText: 'silenced by' }).waitFor({ timeout: 15000 });
  await manila.goto(`${CONSOLE}silences`);
  await Promise.all([
    manila.waitForURL(`${CONSOLE}silences`),
    manila.locator('tr.silence-active', { hasText: `generator test ${RUN}` }).locator('form button').click(),
  ]);
  await manila.locator('tr.silence-expired', { hasText: `generator test ${RUN}` }).waitFor({ timeout: 10000 });
  await manila.goto(`${CONSOLE}alerts/${quiet}`);
  await manila.locator('text=Silence ended').first().waitFor({ timeout: 15000 });

  step('on a phone the board is one card per alert');
  await manila.setViewportSize({ width: 390, height: 844 });
  await manila.goto(CONSOLE);
  await manila.locator(`#alert-${id}`).waitFor({ timeout: 10000 });
  const fontSize = await manila.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
  check(fontSize >= 16, `phone text is ${fontSize}px`);
  await manila.screenshot({ path: join(SHOTS, 'board-phone.png') });

  check(pageErrors.length === 0, `script errors or CSP violations: ${pageErrors.join('; ')}`);
  console.log(`FIGURES ${JSON.stringify(figures)}`);
} finally {
  await Promise.allSettled([manilaBrowser.close(), panamaBrowser.close(), officeBrowser.close()]);
}
