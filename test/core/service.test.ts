// Services: ordered start, reverse stop, rollback on a failed start, bounded stop.
import { describe, expect, it } from 'vitest';
import { CoreError, type CoreEvent, type Service } from '../../lib/core/index.js';
import { testCore, until } from './helpers.js';

function svc(name: string, order: number, trail: string[], extra: Partial<Service> = {}): Service {
  return {
    name,
    order,
    onStartup: () => {
      trail.push(`start:${name}`);
    },
    onShutdown: () => {
      trail.push(`stop:${name}`);
    },
    ...extra,
  };
}

describe('core.use', () => {
  it('good: adds services, listed in start order', () => {
    const core = testCore();
    core
      .use(svc('api', 200, []))
      .use(svc('config', 10, []))
      .use({ name: 'plain' });
    expect(core.services()).toEqual(['config', 'plain', 'api']);
  });

  it('bad: use after start is a Lifecycle error', async () => {
    const core = testCore();
    await core.start();
    expect(() => core.use(svc('late', 1, []))).toThrow(
      expect.objectContaining({ kind: 'Lifecycle' }),
    );
    expect(() => core.use(svc('late', 1, []))).toThrow(
      /use\('late'\) refused, the core is running/,
    );
  });

  it('ugly: a duplicate or nameless service is refused', () => {
    const core = testCore();
    core.use(svc('a', 1, []));
    expect(() => core.use(svc('a', 2, []))).toThrow(expect.objectContaining({ kind: 'Duplicate' }));
    expect(() => core.use({ name: '' })).toThrow(/needs a non-empty name/);
  });
});

describe('core.start', () => {
  it('good: starts low order first; services may register actions', async () => {
    const core = testCore();
    const trail: string[] = [];
    core.use(svc('b', 50, trail));
    core.use(
      svc('a', 10, trail, {
        onStartup: (c) => {
          trail.push('start:a');
          c.action('a.ping', () => 'pong');
        },
      }),
    );
    core.use(svc('c', 50, trail));
    await core.start();
    expect(trail).toEqual(['start:a', 'start:b', 'start:c']);
    expect(core.state).toBe('running');
    expect(await core.action('a.ping').run()).toEqual({ ok: true, value: 'pong' });
  });

  it('bad: a failing start stops the started ones in reverse and rejects naming the service', async () => {
    const core = testCore();
    const trail: string[] = [];
    core
      .use(svc('one', 1, trail))
      .use(svc('two', 2, trail))
      .use(svc('four', 4, trail));
    core.use(
      svc('three', 3, trail, {
        onStartup: async () => {
          trail.push('start:three');
          throw new Error('port in use');
        },
      }),
    );
    const err = await core.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoreError);
    expect(err).toMatchObject({ kind: 'Lifecycle', service: 'three' });
    expect((err as Error).message).toContain('start failed in service three: port in use');
    expect(trail).toEqual(['start:one', 'start:two', 'start:three', 'stop:two', 'stop:one']);
    expect(core.state).toBe('failed');
  });

  it('ugly: start twice is refused', async () => {
    const core = testCore();
    await core.start();
    await expect(core.start()).rejects.toMatchObject({ kind: 'Lifecycle' });
  });
});

describe('core.stop', () => {
  it('good: stops in reverse order and reports them', async () => {
    const core = testCore();
    const trail: string[] = [];
    core
      .use(svc('low', 1, trail))
      .use(svc('high', 9, trail))
      .use(svc('mid', 5, trail));
    await core.start();
    const report = await core.stop();
    expect(trail.slice(3)).toEqual(['stop:high', 'stop:mid', 'stop:low']);
    expect(report).toEqual({ ok: true, stopped: ['high', 'mid', 'low'], timedOut: [], failed: [] });
    expect(core.state).toBe('stopped');
  });

  it('bad: a service exceeding the stop timeout is reported and the stop continues', async () => {
    const core = testCore({ stopTimeout: 100 });
    const trail: string[] = [];
    let sawAbort = false;
    core.use(svc('first', 1, trail));
    core.use(
      svc('stuck', 2, trail, {
        onShutdown: (_c, { signal }) =>
          new Promise<void>(() => {
            signal.addEventListener('abort', () => {
              sawAbort = true;
            });
          }),
      }),
    );
    const timeouts: CoreEvent[] = [];
    core.events.subscribe('core.service.timeout', (e) => {
      timeouts.push(e);
    });
    await core.start();
    const began = Date.now();
    const report = await core.stop();
    expect(Date.now() - began).toBeLessThan(4000);
    expect(report).toMatchObject({ ok: false, stopped: ['first'], timedOut: ['stuck'] });
    expect(trail).toContain('stop:first');
    expect(sawAbort).toBe(true);
    await until(() => timeouts.length === 1);
    expect(timeouts[0]?.payload).toEqual({ core: 'test', service: 'stuck', timeoutMs: 100 });
  });

  it('ugly: a throwing shutdown is reported, others still stop; stop when not running is a no-op', async () => {
    const core = testCore();
    const trail: string[] = [];
    expect(await core.stop()).toEqual({ ok: true, stopped: [], timedOut: [], failed: [] });
    core.use(svc('a', 1, trail));
    core.use(
      svc('b', 2, trail, {
        onShutdown: () => {
          throw new Error('disk gone');
        },
      }),
    );
    await core.start();
    const report = await core.stop();
    expect(report.ok).toBe(false);
    expect(report.stopped).toEqual(['a']);
    expect(report.failed.map((f) => [f.service, f.error.message])).toEqual([['b', 'disk gone']]);
    expect((await core.stop()).stopped).toEqual([]);
  });
});
