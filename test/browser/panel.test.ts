// The web panel in a real browser: Debian's chromium, headless, driven by playwright-core
// against a real server over a real Core. A process started from the form must really run
// (/proc), its output must appear live, and killing it must end it and show the status.
// Screenshots land in test-artifacts/ (and the README's picture in docs/panel.png).
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { type ApiServer, serve } from '../../lib/api/server.js';
import { Core } from '../../lib/core/core.js';
import { silentLogger } from '../../lib/core/logger.js';
import { processService } from '../../lib/service/service.js';
import { procState } from '../helpers.js';
import { needsTool } from '../optional.js';
import { ROOT } from '../subprocess.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const suite = needsTool(
  `chromium (${CHROMIUM})`,
  existsSync(CHROMIUM),
  'apt-get install chromium, or CHROMIUM_PATH=/path/to/chromium',
);
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

let browser: Browser;
let core: Core;
let api: ApiServer;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    if (!process.env.CI) return; // the suite is skipped, and says so
    throw new Error(
      `chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`,
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox'],
  });
});

afterAll(async () => {
  await browser?.close();
});

async function open(): Promise<void> {
  core = new Core({ name: 'panel', logger: silentLogger });
  core.use(processService({ killGrace: 300 }));
  await core.start();
  api = await serve({ core });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(api.panelUrl);
  await page.getByTestId('ws-state').filter({ hasText: 'live' }).waitFor();
  expect(errors).toEqual([]);
}

afterEach(async () => {
  await page?.close();
  await api?.close();
  await core?.stop();
});

const alive = (pid: number) => {
  const s = procState(pid);
  return s !== null && s !== 'Z';
};

suite('web panel', () => {
  it('good: start from the form, watch output arrive live, kill it, see the status change', async () => {
    await open();
    // The token came in the fragment and must not stay in the address bar.
    expect(page.url()).not.toContain(api.token);
    await page.getByTestId('tab-processes').click();
    await page.getByTestId('start-command').fill('sh');
    await page
      .getByTestId('start-args')
      .fill('-c "i=0; while true; do i=$((i+1)); echo tick $i; echo warn $i >&2; sleep 0.1; done"');
    await page.getByTestId('start-submit').click();

    // Output tab: lines keep arriving over the WebSocket, stdout and stderr told apart.
    const output = page.getByTestId('output');
    await output.locator('.stdout', { hasText: 'tick 3' }).waitFor();
    await output.locator('.stderr', { hasText: 'warn 3' }).first().waitFor();
    await output.locator('.stdout', { hasText: 'tick 6' }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'panel-output.png') });
    // The README's picture: UPDATE_SCREENSHOT=1 npx vitest run test/browser
    if (process.env.UPDATE_SCREENSHOT === '1') {
      mkdirSync(path.join(ROOT, 'docs'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'docs', 'panel.png') });
    }

    // The process really runs, as the panel says.
    const list = await core.action('process.list').run();
    const snap = (list.ok ? (list.value as Array<{ id: string; pid: number }>) : [])[0];
    expect(snap).toBeDefined();
    const { id, pid } = snap as { id: string; pid: number };
    expect(alive(pid)).toBe(true);

    await page.getByTestId('tab-processes').click();
    const row = page.locator(`[data-testid="process-row"][data-id="${id}"]`);
    await expect
      .poll(async () => (await row.getByTestId('status').textContent())?.trim())
      .toBe('running');
    await page.screenshot({ path: path.join(ARTIFACTS, 'panel-processes-running.png') });

    await row.getByTestId('kill').click();
    await expect
      .poll(async () => (await row.getByTestId('status').textContent())?.trim(), {
        timeout: 10_000,
      })
      .toMatch(/killed|exited/);
    expect(alive(pid)).toBe(false);
    expect(await row.getByTestId('kill').isDisabled()).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'panel-processes-killed.png') });
  });

  it('bad: without a token the panel says so and the API refuses it', async () => {
    core = new Core({ name: 'panel', logger: silentLogger });
    core.use(processService());
    await core.start();
    api = await serve({ core });
    page = await browser.newPage();
    await page.goto(api.url);
    await page.getByTestId('auth-banner').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'panel-no-token.png') });
  });

  it('ugly: the CPU view shows a realtime pinned process on its CPU only', async () => {
    await open();
    const r = await core.action('process.start').run({
      command: 'sleep',
      args: ['30'],
      affinity: [1],
      scheduler: { policy: 'fifo', priority: 5 },
    });
    expect(r.ok).toBe(true);
    await page.getByTestId('tab-cpus').click();
    const rows = page.getByTestId('cpu-row');
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    await rows.nth(1).getByText('sleep').first().waitFor();
    await rows.nth(1).getByTestId('realtime').first().waitFor();
    expect(await rows.nth(0).getByText('sleep').count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'panel-cpus.png') });
  });
});
