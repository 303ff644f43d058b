/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The demo as a newcomer meets it, in a real browser: `startDemo` (a 3-Host testbed with the Manager as
 * host1's guest, a private Redis, bot + worker + monitor on the local Slack workspace) and its console in
 * Debian's Chromium driven by playwright-core. The walk-through of the README: register every Host, the
 * OCFS2 first node's summary and Confirm, join the others, create a volume, move the Manager onto it, fail
 * a Host from the cluster panel and watch its alert thread open and resolve; a non-admin's click is refused.
 * Basics of accessibility: every control is labelled and reachable by keyboard. Screenshots of each step
 * are saved in artifacts/browser/ (the README's images come from there).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from '../../src/demo.js';
import { diskPaths, testbedStatus } from '../../src/testbed/index.js';
import { layoutFor } from '../../src/testbed/layout.js';
import { quietLog } from '../ocfs2/helpers.js';

const NAME = 'br-demo';
const ARTIFACTS = path.resolve(import.meta.dirname, '../../artifacts/browser');
const CHROMIUM = '/usr/bin/chromium';
const DEVICE = path.basename(diskPaths(layoutFor(NAME, '/', 0, 0), 0).byId);
const JOB_MS = 150_000;

let demo: Demo;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  demo = await startDemo({ name: NAME, port: 0, log: quietLog });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(demo.url);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  // stop() removed everything it made: the testbed is gone
  expect((await testbedStatus({ name: NAME, log: quietLog })).exists).toBe(false);
}, 120_000);

/**
 * Controls on the screen without an accessible name (aria-label, aria-labelledby, a <label>; buttons and links
 * also by their text) and any positive tabindex: both must be none, on every screen the walk-through shows.
 */
async function a11yProblems(): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('button, a[href], input, select, textarea, [tabindex]')].flatMap((el) => {
      const e = el as HTMLElement & { labels?: NodeListOf<HTMLLabelElement> };
      const text = e.tagName === 'BUTTON' || e.tagName === 'A' ? e.textContent?.trim() : '';
      const named =
        e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || e.labels?.length || text;
      const tab = Number(e.getAttribute('tabindex') ?? 0) > 0 ? ['positive tabindex'] : [];
      return [
        ...(named || e.matches('[tabindex]:not(button, a, input, select, textarea)') ? [] : ['no name']),
        ...tab,
      ].map((why) => `${why}: ${el.outerHTML.slice(0, 120)}`);
    }),
  );
}

const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
const nav = (name: string | RegExp) => page.getByRole('navigation').getByRole('button', { name });
const bot = () => page.locator('main article[aria-label="Message from flexvdi-chatops"]');

async function actAs(who: 'admin' | 'operator'): Promise<void> {
  const select = page.getByLabel('Acting user');
  const value = await select
    .locator('option', { hasText: who === 'admin' ? 'admin (admin)' : 'operator (not admin)' })
    .getAttribute('value');
  await select.selectOption(value!);
}

async function openChannel(name: 'ops' | 'alerts'): Promise<void> {
  await nav(new RegExp(`^#${name}`)).click();
  await expect.poll(() => page.getByLabel(`Message #${name}`).count()).toBe(1);
}

/** Types `/flexvdi <text>` in #ops and returns its plan message once it is shown. */
async function command(text: string): Promise<Locator> {
  const box = page.getByLabel('Message #ops');
  await box.fill(`/flexvdi ${text}`);
  await box.press('Enter');
  const msg = bot()
    .filter({ hasText: `/flexvdi ${text}` })
    .last();
  await msg.waitFor({ timeout: 60_000 });
  return msg;
}

/** Waits until `msg` shows `re` (the bot edits one message as a job goes). */
const until = (msg: Locator, re: RegExp, timeout = JOB_MS) =>
  expect
    .poll(async () => ((await msg.textContent()) ?? '').replace(/\s+/g, ' '), { timeout, interval: 250 })
    .toMatch(re);

/** Confirm on a plan: the button, then the dialog's "Run it" (or, when the plan asks to type a word, the modal). */
async function confirm(msg: Locator): Promise<void> {
  const typed = msg.getByRole('button', { name: 'Confirm…', exact: true });
  if (await typed.count()) {
    await typed.click();
    const modal = page.getByRole('dialog');
    const input = modal.getByRole('textbox');
    const label = (await modal.locator('label').first().textContent()) ?? '';
    await input.fill(/Type (\S+) to confirm/.exec(label)![1]!);
    await modal.getByRole('button', { name: 'Confirm', exact: true }).click();
    await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
    return;
  }
  await msg.getByRole('button', { name: 'Confirm', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Run it' }).click();
}

async function run(text: string, o: { before?: (plan: Locator) => Promise<void> } = {}): Promise<Locator> {
  const plan = await command(text);
  await until(plan, /awaiting confirmation/, 60_000);
  await o.before?.(plan);
  await confirm(plan);
  await until(plan, /— completed/);
  return plan;
}

describe('the demo in the browser', () => {
  it('every control is labelled and the main ones are reachable with the keyboard', async () => {
    expect(await a11yProblems()).toEqual([]);
    const reached = new Set<string>();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.add(
        await page.evaluate(() => {
          const a = document.activeElement as HTMLElement | null;
          return a
            ? `${a.tagName.toLowerCase()}:${a.getAttribute('aria-label') ?? a.textContent?.trim() ?? ''}`
            : '';
        }),
      );
    }
    expect([...reached]).toEqual(
      expect.arrayContaining(['select:Acting user', 'textarea:Message #ops', 'button:Send']),
    );
    expect([...reached].some((r) => r.startsWith('button:#alerts'))).toBe(true);
  });

  it('registers every Host in one plan; a non-admin cannot confirm it', async () => {
    const plan = await command('register-host --all');
    await until(plan, /awaiting confirmation/, 60_000);
    expect(await plan.textContent()).toMatch(/host1[\s\S]*host2[\s\S]*host3/);
    await actAs('operator');
    // not an admin: may not run a command that changes the cluster…
    const box = page.getByLabel('Message #ops');
    await box.fill('/flexvdi register-host --all');
    await box.press('Enter');
    const mine = page.locator('article[aria-label="Only visible to you"]');
    await until(mine.last(), /Only flexVDI admins can run this command/, 30_000);
    // …nor confirm the admin's plan, which still waits
    await confirm(plan);
    await until(mine.last(), /Only @admin \(who asked\) or a flexVDI admin can confirm this plan\./, 30_000);
    await until(plan, /awaiting confirmation/);
    await shot('non-admin-refused');
    await actAs('admin');
    await expect.poll(() => page.locator('article[aria-label="Only visible to you"]').count()).toBe(0);
    await confirm(plan);
    await until(plan, /— completed/);
  });

  it('OCFS2: the first node shows its summary with Confirm, Edit and Cancel; then the others join', async () => {
    await run('ocfs2 first-node host1 --cluster-name demo', {
      before: async (plan) => {
        for (const name of ['Confirm', 'Edit', 'Cancel'])
          await expect.poll(() => plan.getByRole('button', { name, exact: true }).count()).toBe(1);
        await plan.scrollIntoViewIfNeeded();
        await shot('first-node-summary');
        // Edit: a modal with labelled inputs; Escape leaves it and the plan as they were
        await plan.getByRole('button', { name: 'Edit', exact: true }).click();
        const modal = page.getByRole('dialog');
        await modal.waitFor({ timeout: 30_000 });
        expect(await modal.getByRole('textbox').count()).toBeGreaterThan(0);
        await expect.poll(() => modal.getByRole('button', { name: 'Plan again' }).count()).toBe(1);
        await shot('first-node-edit');
        expect(await a11yProblems()).toEqual([]);
        await page.keyboard.press('Escape');
        await expect.poll(() => page.getByRole('dialog').count()).toBe(0);
      },
    });
    await run('ocfs2 join --all');
  });

  it('creates an Image Storage volume on the shared disk and moves the Manager onto it', async () => {
    const devices = await command('storage devices');
    await until(devices, new RegExp(DEVICE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 60_000);
    await run(`storage create-volume images vol1 --device ${DEVICE}`);
    await run('manager move-to vol1');
  });

  it('a Host failed from the cluster panel opens one alert thread, resolved when it is healed', async () => {
    await nav('Cluster').click();
    await page.getByLabel('Fault mode for host3').selectOption('freeze');
    await page.getByRole('button', { name: 'Fail host3' }).click();
    const row3 = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'host3' }) });
    await expect
      .poll(async () => (await row3.textContent()) ?? '', { timeout: 15_000 })
      .toMatch(/failed.*freeze/);
    expect(await a11yProblems()).toEqual([]);
    await openChannel('alerts');
    const alert = bot().filter({ hasText: 'host3' }).last();
    await until(alert, /host3.* is lost since/, 60_000);
    await shot('alert-lost');
    await nav('Cluster').click();
    await page.getByRole('button', { name: 'Heal host3' }).click();
    await openChannel('alerts');
    await until(alert, /host3.* is back: lost at/, 90_000);
    expect(await bot().filter({ hasText: 'host3' }).count()).toBe(1); // one incident, one thread
    // the transcript the page offers, kept as an artifact: and no other Host was alerted on
    const href = await page.getByRole('link', { name: 'Export transcript' }).getAttribute('href');
    const transcript = await (await page.request.get(new URL(href!, demo.url).toString())).text();
    writeFileSync(path.join(ARTIFACTS, 'alerts-transcript.md'), transcript);
    // every Web API call (each alert's edits say which signals failed), should the next line fail
    const calls = await (await page.request.get(new URL('/console/calls', demo.url).toString())).text();
    writeFileSync(path.join(ARTIFACTS, 'web-api-calls.json'), calls);
    expect(transcript).toMatch(/^# #alerts/);
    expect(transcript).not.toMatch(/host[12]\b.*(lost|is back)/);
    // its thread tells the story: the recovery with the downtime
    await alert.getByRole('button', { name: /\d+ repl/ }).click();
    const thread = page.getByRole('complementary', { name: 'Thread' });
    await expect
      .poll(async () => ((await thread.textContent()) ?? '').replace(/\s+/g, ' '), { timeout: 15_000 })
      .toMatch(/host3.*(down|back|answer)/i);
    await shot('alert-thread');
    expect(await a11yProblems()).toEqual([]);
  });

  it("the app's Home tab shows the cluster as the monitor sees it", async () => {
    await nav('Home').click();
    const home = page.getByRole('main');
    await expect
      .poll(async () => ((await home.textContent()) ?? '').replace(/\s+/g, ' '), { timeout: 30_000 })
      .toMatch(/flexVDI cluster.*3 Hosts/);
  });

  it('the inspector lists the Web API calls the bot made', async () => {
    await nav('Inspector').click();
    await expect
      .poll(() => page.getByRole('button', { name: /chat\.update/ }).count(), { timeout: 15_000 })
      .toBeGreaterThan(0);
    await shot('inspector');
    expect(await a11yProblems()).toEqual([]);
  });
});
