// GET /metrics on the API server, scraped over real HTTP and read with an independent parser
// of the Prometheus text format: the series move with real spawns, exits, failures, policy
// denials and audit failures; the token and Host rules are the API's; each server has its
// own registry.
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Subscriber } from '../../lib/events/subscriber.js';
import { rawRequest, startProcess, useApi } from './helpers.js';
import { count, family, sample, scrape, scrapeUntil, value } from './scrape.js';

const start = useApi();
const metricsUrl = (url: string) => `${url}/metrics`;

describe('/metrics: what it counts', () => {
  it('good: spawns, exits by code and signal, running, and both histograms move with real children', async () => {
    const api = await start({ service: { killGrace: 300 } });
    const url = metricsUrl(api.api.url);
    const before = await scrape(url, api.api.token);
    expect(before.status).toBe(200);
    expect(before.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(family(before, 'core_process_spawns_total')?.type).toBe('COUNTER');
    expect(family(before, 'core_process_spawn_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(value(before, 'core_process_spawns_total')).toBe(0);

    // One clean exit, one exit 3, one child still running, then killed by SIGTERM.
    expect((await api.core.action('process.run').run({ command: 'true' })).ok).toBe(true);
    const three = await api.core
      .action('process.run')
      .run({ command: 'sh', args: ['-c', 'exit 3'] });
    expect(three.ok).toBe(false);
    const { id } = await startProcess(api, { command: 'sleep', args: ['30'] });
    const running = await scrapeUntil(
      url,
      api.api.token,
      (s) => value(s, 'core_process_spawns_total') === 3 && value(s, 'core_process_running') === 1,
    );
    expect(value(running, 'core_process_exits_total', { code: '0', signal: '' })).toBe(1);
    expect(value(running, 'core_process_exits_total', { code: '3', signal: '' })).toBe(1);
    expect(count(running, 'core_process_spawn_duration_seconds')).toBe(3);
    expect(count(running, 'core_process_run_duration_seconds')).toBe(2);

    const killed = await api.call('POST', `/api/process/processes/${id}/kill`, {
      signal: 'SIGTERM',
    });
    expect(killed.status).toBe(200);
    const after = await scrapeUntil(
      url,
      api.api.token,
      (s) => value(s, 'core_process_running') === 0,
    );
    expect(value(after, 'core_process_exits_total', { code: '', signal: 'SIGTERM' })).toBe(1);
    expect(count(after, 'core_process_run_duration_seconds')).toBe(3);
    // The histogram's buckets are cumulative and its sum is in seconds: three short children
    // ran for well under the largest finite bucket, a day.
    const h = sample(after, 'core_process_run_duration_seconds');
    expect(Number(h?.buckets?.['86400'])).toBe(3);
    expect(Number(h?.sum)).toBeGreaterThan(0);
    expect(Number(h?.sum)).toBeLessThan(3 * 86400);
  });

  it('bad: a failed spawn counts by its kind, a policy refusal by its action; neither is a spawn', async () => {
    const api = await start();
    const url = metricsUrl(api.api.url);
    const missing = await api.call('POST', '/api/process/processes', {
      command: 'no-such-program-7f3a',
    });
    expect(missing.status).toBeGreaterThanOrEqual(400);
    const s = await scrapeUntil(
      url,
      api.api.token,
      (x) => (family(x, 'core_process_spawn_failures_total')?.metrics.length ?? 0) > 0,
    );
    const failures = family(s, 'core_process_spawn_failures_total')?.metrics ?? [];
    expect(failures).toEqual([{ labels: { kind: missing.body.error.kind }, value: '1' }]);
    expect(value(s, 'core_process_spawns_total')).toBe(0);
    expect(value(s, 'core_process_running')).toBe(0);

    const guarded = await start({ service: { policy: { allow: ['true'] } } });
    const refused = await guarded.call('POST', '/api/process/processes', { command: 'echo' });
    expect(refused.status).toBe(403);
    const d = await scrapeUntil(
      metricsUrl(guarded.api.url),
      guarded.api.token,
      (x) => value(x, 'core_process_policy_denials_total', { action: 'process.start' }) === 1,
    );
    expect(value(d, 'core_process_spawns_total')).toBe(0);
    expect(family(d, 'core_process_spawn_failures_total')?.metrics ?? []).toEqual([]);
  });

  it('ugly: audit failures per subscriber, and bus drops as the bus itself counts them', async () => {
    const broken: Subscriber = {
      name: 'broken',
      deliver: async () => {
        throw new Error('disk full');
      },
    };
    const api = await start({ service: { audit: { subscribers: [broken] } } });
    const url = metricsUrl(api.api.url);
    // A subscriber that never finishes its first event: everything after it that does not
    // fit its one-slot queue is dropped, and the bus counts it.
    api.core.events.subscribe('process.*', () => new Promise<void>(() => {}), {
      name: 'stuck',
      queueSize: 1,
    });
    for (let i = 0; i < 3; i++) {
      expect((await api.core.action('process.run').run({ command: 'true' })).ok).toBe(true);
    }
    await api.svc.audit?.flush();
    const s = await scrapeUntil(
      url,
      api.api.token,
      (x) => value(x, 'core_process_audit_write_failures_total', { subscriber: 'broken' }) === 6,
    );
    const dropped = api.core.events.stats().dropped;
    expect(dropped).toBeGreaterThan(0);
    expect(value(s, 'core_process_event_bus_dropped_total')).toBe(dropped);
  });
});

describe('/metrics: daemons', () => {
  it('bad: a daemon that keeps failing counts its restarts, then one give-up, under its name', async () => {
    const api = await start();
    const r = await api.core.action('daemon.start').run({
      name: 'flaky',
      command: 'sh',
      args: ['-c', 'exit 2'],
      restart: { policy: 'on-failure', maxRestarts: 2, backoff: { initialMs: 10 } },
    });
    expect(r.ok).toBe(true);
    const s = await scrapeUntil(
      metricsUrl(api.api.url),
      api.api.token,
      (x) => value(x, 'core_process_daemon_give_ups_total', { daemon: 'flaky' }) === 1,
    );
    expect(value(s, 'core_process_daemon_restarts_total', { daemon: 'flaky' })).toBe(2);
    // The daemon's children are the service's: three spawns, three exits with code 2.
    expect(value(s, 'core_process_spawns_total')).toBe(3);
    expect(value(s, 'core_process_exits_total', { code: '2', signal: '' })).toBe(3);
  });
});

describe('/metrics: who may scrape', () => {
  it('good: the API token in the header is 200', async () => {
    const api = await start();
    expect((await scrape(metricsUrl(api.api.url), api.api.token)).status).toBe(200);
  });

  it('bad: no token is 401 Bearer, a wrong one 401 invalid_token', async () => {
    const { api } = await start();
    const none = await fetch(metricsUrl(api.url));
    expect([none.status, none.headers.get('www-authenticate')]).toEqual([401, 'Bearer']);
    const wrong = await fetch(metricsUrl(api.url), {
      headers: { authorization: `Bearer ${'x'.repeat(32)}` },
    });
    expect([wrong.status, wrong.headers.get('www-authenticate')]).toEqual([
      401,
      'Bearer error="invalid_token"',
    ]);
  });

  it('ugly: a foreign Host is 403 even with the token (DNS rebinding)', async () => {
    const { api } = await start();
    const r = await rawRequest(api.url, 'GET', '/metrics', {
      host: 'evil.example',
      authorization: `Bearer ${api.token}`,
    });
    expect(r.status).toBe(403);
  });
});

describe('/metrics: one registry per server', () => {
  it('good: two cores in one process count their own children, and the global registry is untouched', async () => {
    const a = await start();
    const b = await start();
    expect((await a.core.action('process.run').run({ command: 'true' })).ok).toBe(true);
    await scrapeUntil(
      metricsUrl(a.api.url),
      a.api.token,
      (s) => value(s, 'core_process_spawns_total') === 1,
    );
    expect(
      value(await scrape(metricsUrl(b.api.url), b.api.token), 'core_process_spawns_total'),
    ).toBe(0);
    const global = await globalRegistry.getMetricsAsJSON();
    expect(global.filter((m) => m.name.startsWith('core_process_'))).toEqual([]);
  });

  it('bad: the metrics subscribe to their topics only: process.output stays unwanted', async () => {
    const api = await start();
    expect(api.core.events.stats().subscribers.map((s) => s.name)).toContain('metrics');
    expect(api.core.events.wants('process.output')).toBe(false);
    expect(api.core.events.wants('process.exited')).toBe(true);
  });

  it('ugly: closing the server unsubscribes its metrics from the core', async () => {
    const api = await start();
    await api.api.close();
    expect(api.core.events.stats().subscribers.map((s) => s.name)).not.toContain('metrics');
  });
});
