// `core-process supervise --metrics ADDR`: the compiled command, scraped over real HTTP while
// it supervises real children, read with an independent Prometheus text parser; and the
// loopback and token rules, as for `serve`.
import { beforeAll, describe, it } from 'vitest';
import { scrape, scrapeUntil, value } from '../api/scrape.js';
import { Cli, compiledCli, type OnFinished } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);
const TOKEN = 'metrics-token-0123456789abcdef';
const METRICS_LINE = /^metrics: (http:\/\/\S+\/metrics)/m;

describe.concurrent('core-process supervise --metrics', { timeout: 60_000 }, () => {
  it('good: spawns, exits by code, restarts and spawn latency move as the child keeps failing', async ({
    expect,
    onTestFinished,
  }) => {
    const p = cli(onTestFinished).start([
      'supervise',
      '--name',
      'flaky',
      '--metrics',
      '127.0.0.1:0',
      '--restart',
      'always',
      '--max-restarts',
      '1000',
      '--backoff',
      '50ms',
      '--backoff-max',
      '50ms',
      '--',
      'sh',
      '-c',
      'exit 3',
    ]);
    const url = (await p.waitFor('stderr', METRICS_LINE))[1] as string;
    const first = await scrapeUntil(url, null, (s) => value(s, 'core_process_spawns_total') >= 2);
    const later = await scrapeUntil(
      url,
      null,
      (s) => value(s, 'core_process_spawns_total') >= value(first, 'core_process_spawns_total') + 2,
    );
    for (const s of [first, later]) {
      const spawns = value(s, 'core_process_spawns_total');
      // Every spawn but the newest has exited with 3 and been followed by a restart.
      expect(value(s, 'core_process_exits_total', { code: '3' })).toBeGreaterThanOrEqual(
        spawns - 1,
      );
      expect(
        value(s, 'core_process_daemon_restarts_total', { daemon: 'flaky' }),
      ).toBeGreaterThanOrEqual(spawns - 1);
      expect(
        Number(
          s.families.find((f) => f.name === 'core_process_spawn_duration_seconds')?.metrics[0]
            ?.count,
        ),
      ).toBe(spawns);
    }
    p.child.kill('SIGTERM');
    expect((await p.done).code).toBe(0);
  });

  it('bad: a non-loopback ADDR without a token is a usage error (exit 2) and nothing is started', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(
      ['supervise', '--metrics', '0.0.0.0:0', '--', 'sh', '-c', 'echo ran'],
      { env: { CORE_PROCESS_TOKEN: '' } },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/"0\.0\.0\.0": not a loopback address; give --metrics-token/);
    expect(r.stdout).not.toContain('ran');
    const bad = await cli(onTestFinished).run(['supervise', '--metrics', 'nowhere', '--', 'true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--metrics.*"nowhere" is not host:port/);
  });

  it('ugly: with a token it may listen off loopback, and a scrape without it is 401 (RFC 6750)', async ({
    expect,
    onTestFinished,
  }) => {
    const p = cli(onTestFinished).start([
      'supervise',
      '--metrics',
      '0.0.0.0:0',
      '--metrics-token',
      TOKEN,
      '--',
      'sleep',
      '30',
    ]);
    const shown = (await p.waitFor('stderr', METRICS_LINE))[1] as string;
    await p.waitFor('stderr', /started pid/);
    const url = shown.replace('0.0.0.0', '127.0.0.1');
    const none = await fetch(url);
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    const wrong = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect([wrong.status, wrong.headers.get('www-authenticate')]).toEqual([
      401,
      'Bearer error="invalid_token"',
    ]);
    const ok = await scrape(url, TOKEN);
    expect(ok.status).toBe(200);
    expect(value(ok, 'core_process_running')).toBe(1);
    p.child.kill('SIGTERM');
    expect((await p.done).code).toBe(0);
  });
});
