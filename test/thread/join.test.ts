/**
 * joinThread and ThreadResult: the start function's value, its error as the rejection's
 * cause, timeouts that leave the thread running, detached threads, and the OS thread being
 * gone (no /proc/<pid>/task/<tid>) by the time a join resolves.
 */
import { describe, expect, it } from 'vitest';
import type { ThreadOptions } from '../../lib/thread/create.js';
import { ThreadError } from '../../lib/thread/errors.js';
import type { ThreadHandle } from '../../lib/thread/handle.js';
import { joinThread } from '../../lib/thread/join.js';
import { messageFrom, taskExists, threadStarter } from './helpers.js';

const start = threadStarter();

/** A thread that holds until released, once its start function is running. */
async function holding(options: ThreadOptions = {}): Promise<ThreadHandle> {
  const t = await start('hold.mjs', options);
  await messageFrom(t.worker, (m: { type?: string }) => m.type === 'holding');
  return t;
}

function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('joinThread', () => {
  it('resolves with the start function’s return value once the OS thread is gone', async () => {
    const value = { samples: [1, 2, 3], at: new Date(0), map: new Map([['k', 1]]) };
    const t = await holding({ data: { value } });
    expect(taskExists(t.tid)).toBe(true);
    t.worker.postMessage('release');
    const result = await joinThread(t);
    expect(result).toEqual({ exitCode: 0, value });
    expect(taskExists(t.tid)).toBe(false);
    expect(t.running).toBe(false);
    // Joining again gives the same answer.
    expect(await joinThread(t)).toBe(result);
    expect(await t.exited).toBe(result);
  });

  it('times out with TimedOut and leaves the thread running and joinable', async () => {
    const t = await holding({ data: { value: 'late' } });
    const started = performance.now();
    const e = await rejection(joinThread(t, { timeout: 100 }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(e).toBeInstanceOf(ThreadError);
    expect(e).toMatchObject({ kind: 'TimedOut', code: 'ETIMEDOUT' });
    expect((e as Error).message).toContain(`tid ${t.tid}`);
    expect((e as Error).message).toContain('100 ms');
    expect(taskExists(t.tid)).toBe(true);
    expect(t.running).toBe(true);
    t.worker.postMessage('release');
    expect(await joinThread(t, { timeout: 10_000 })).toEqual({ exitCode: 0, value: 'late' });
  });

  it('a detached thread rejects JoinFailed at once, and still reports its end on `exited`', async () => {
    const t = await holding({ name: 'bg', detached: true, data: { value: 7 } });
    const e = await rejection(joinThread(t, { timeout: 5000 }));
    expect(e).toBeInstanceOf(ThreadError);
    expect(e).toMatchObject({ kind: 'JoinFailed' });
    expect((e as Error).message).toBe(
      `joinThread: thread bg (tid ${t.tid}) is detached: it cannot be joined`,
    );
    expect(taskExists(t.tid)).toBe(true);
    t.worker.postMessage('release');
    expect(await t.exited).toEqual({ exitCode: 0, value: 7 });
  });

  it('a thrown error rejects JoinFailed with the error, its message and code, as cause', async () => {
    const t = await start('throws.mjs', { name: 'sensor' });
    const e = await rejection(joinThread(t));
    expect(e).toBeInstanceOf(ThreadError);
    expect(e).toMatchObject({ kind: 'JoinFailed' });
    expect((e as Error).message).toContain('sensor offline');
    const cause = (e as Error).cause as Error & { code?: string };
    expect(cause).toBeInstanceOf(Error);
    expect(cause.message).toBe('sensor offline');
    expect(cause.code).toBe('ESENSOR');
    expect(cause.stack).toContain('throws.mjs');
    const result = await t.exited;
    expect(result.exitCode).toBe(1);
    expect(result.error).toBe(cause);
  });

  it('a return value that cannot be cloned fails the join, saying so', async () => {
    const t = await start('unclonable.mjs');
    const e = await rejection(joinThread(t));
    expect(e).toMatchObject({ kind: 'JoinFailed' });
    expect(((e as Error).cause as Error).message).toMatch(/cannot be sent to the parent thread/);
  });

  it('a thread stopped before its start function returned fails the join', async () => {
    const t = await holding();
    await t.worker.terminate();
    const e = await rejection(joinThread(t));
    expect(e).toMatchObject({ kind: 'JoinFailed' });
    expect(((e as Error).cause as Error).message).toMatch(/before its start function returned/);
    expect(taskExists(t.tid)).toBe(false);
  });

  it('a start function that never settles, with nothing else pending, ends the thread', async () => {
    const t = await start('never.mjs');
    const e = await rejection(joinThread(t, { timeout: 10_000 }));
    expect(e).toMatchObject({ kind: 'JoinFailed' });
    expect(((e as Error).cause as Error).message).toMatch(/before its start function returned/);
  });

  it('rejects bad input naming it: timeout, handle', async () => {
    const t = await start('report.mjs');
    for (const timeout of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5']) {
      const e = await rejection(joinThread(t, { timeout: timeout as number }));
      expect(e).toMatchObject({ kind: 'InvalidArgument', field: 'timeout', code: 'EINVAL' });
      expect((e as Error).message).toContain(String(timeout));
    }
    const e = await rejection(joinThread({ tid: 1 } as unknown as ThreadHandle));
    expect(e).toMatchObject({ kind: 'InvalidArgument', field: 'handle' });
    await joinThread(t);
  });
});

describe('which export runs', () => {
  it('`export` names the start function', async () => {
    const t = await start('exports.mjs', { export: 'double', data: 21 });
    expect((await joinThread(t)).value).toBe(42);
  });

  it('without `export` and without a default function, the module body is the thread', async () => {
    const t = await start('exports.mjs');
    const body = messageFrom(t.worker, (m: { type?: string }) => m.type === 'body');
    await body;
    expect(await joinThread(t)).toEqual({ exitCode: 0, value: undefined });
  });

  it('an explicit export that is missing or not a function fails the thread, naming it', async () => {
    const notFn = await start('exports.mjs', { export: 'notAFunction' });
    const e1 = await rejection(joinThread(notFn));
    expect(e1).toMatchObject({ kind: 'JoinFailed' });
    expect(((e1 as Error).cause as Error).message).toMatch(
      /export "notAFunction" of .*exports\.mjs is not a function \(it is a number\)/,
    );
    const missing = await start('exports.mjs', { export: 'nope' });
    const e2 = await rejection(joinThread(missing));
    expect(((e2 as Error).cause as Error).message).toMatch(/"nope".*there is no such export/);
  });
});
