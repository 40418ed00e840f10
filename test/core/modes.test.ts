// Invocation modes (seed 001 §18.8): Broadcast, Query, Run, RunAsync, each answering Results.
import { describe, expect, it } from 'vitest';
import type { CoreEvent } from '../../lib/core/index.js';
import { testCore, until } from './helpers.js';

describe('Action.broadcast / query / runAsync', () => {
  it('good: broadcast reaches every matching action without waiting; query takes the first success', async () => {
    const core = testCore();
    const got: string[] = [];
    core.action('cache.mem', (k: string) => void got.push(`mem:${k}`));
    core.action('cache.disk', async (k: string) => {
      await new Promise((r) => setTimeout(r, 50));
      got.push(`disk:${k}`);
    });
    expect(core.action('cache.*').broadcast('u7')).toEqual({ ok: true, value: 2 });
    expect(got).not.toContain('disk:u7'); // fire-and-forget: the slow one is not awaited
    await until(() => got.length === 2);
    expect(got.sort()).toEqual(['disk:u7', 'mem:u7']);

    core.action('resolve.slow', async () => {
      await new Promise((r) => setTimeout(r, 300));
      return 'slow';
    });
    core.action('resolve.broken', () => {
      throw new Error('no');
    });
    core.action('resolve.fast', () => 'fast');
    expect(await core.action('resolve.*').query()).toEqual({ ok: true, value: 'fast' });
  });

  it('bad: nothing matching is NotRegistered for every mode; a query whose members all fail fails', async () => {
    const core = testCore();
    expect(core.action('none.*').broadcast()).toMatchObject({
      ok: false,
      error: { kind: 'NotRegistered' },
    });
    expect(await core.action('none.*').query()).toMatchObject({
      ok: false,
      error: { kind: 'NotRegistered' },
    });
    expect(core.action('none').runAsync()).toMatchObject({
      ok: false,
      error: { kind: 'NotRegistered' },
    });
    core.action('q.a', () => {
      throw new Error('a failed');
    });
    const r = await core.action('q.*').query();
    expect(!r.ok && r.error.message).toBe('action q.a: handler failed: a failed');
  });

  it('ugly: runAsync answers at once, reports progress as events, and can be aborted', async () => {
    const core = testCore();
    const events: CoreEvent[] = [];
    core.events.subscribe('action.*', (e) => {
      events.push(e);
    });
    core.action('job.count', async (n: number, { progress, signal }) => {
      for (let i = 1; i <= n; i++) {
        if (signal.aborted) throw new Error('stopped');
        progress({ done: i, of: n });
        await new Promise((r) => setTimeout(r, 5));
      }
      return n;
    });
    const job = core.action<number, number>('job.count').runAsync(3);
    if (!job.ok) throw job.error;
    expect(job.value.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await job.value.done).toEqual({ ok: true, value: 3 });
    await until(() => events.some((e) => e.topic === 'action.completed'));
    expect(events.filter((e) => e.topic === 'action.progress').map((e) => e.payload)).toEqual(
      [1, 2, 3].map((i) => ({
        id: job.value.id,
        action: 'job.count',
        progress: { done: i, of: 3 },
      })),
    );
    const long = core.action<number, number>('job.count').runAsync(1000);
    if (!long.ok) throw long.error;
    long.value.abort(new Error('enough'));
    expect(await long.value.done).toMatchObject({ ok: false, error: { kind: 'Aborted' } });
  });
});
