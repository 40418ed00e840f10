// Actions: registration is permission, input is validated, and no exception crosses run().
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type CoreEvent, fail } from '../../lib/core/index.js';
import { ProcessError } from '../../lib/errors.js';
import { ThreadError } from '../../lib/thread/errors.js';
import { testCore, until } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'core-action-'));

describe('core.action (register)', () => {
  it('good: registers with a description and schema visible through def()', () => {
    const core = testCore();
    const schema = z.object({ dir: z.string() });
    core.action('git.log', () => 'log', { description: 'last commits', schema });
    expect(core.action('git.log').exists()).toBe(true);
    expect(core.action('git.log').def()).toMatchObject({
      name: 'git.log',
      description: 'last commits',
      schema,
    });
  });

  it('bad: a duplicate name is an error unless replace is given', async () => {
    const core = testCore();
    core.action('a.b', () => 1);
    expect(() => core.action('a.b', () => 2)).toThrow(
      expect.objectContaining({ kind: 'Duplicate' }),
    );
    core.action('a.b', () => 3, { replace: true });
    expect(await core.action('a.b').run()).toEqual({ ok: true, value: 3 });
  });

  it('ugly: a non-function handler is refused at registration', () => {
    const core = testCore();
    // @ts-expect-error: deliberately wrong type
    expect(() => core.action('a.b', 'nope')).toThrow(/handler must be a function/);
    expect(core.action('a.b').exists()).toBe(false);
  });
});

describe('core.actions', () => {
  it('good: lists names by glob', () => {
    const core = testCore();
    for (const n of ['process.run', 'process.start', 'my.thing']) core.action(n, () => n);
    expect(core.actions('process.*')).toEqual(['process.run', 'process.start']);
    expect(core.actions()).toHaveLength(3);
  });

  it('bad: nothing registered lists nothing', () => {
    expect(testCore().actions('process.*')).toEqual([]);
  });

  it('ugly: * does not cross a dot but ** does', () => {
    const core = testCore();
    core.action('process.output.chunk', () => 1);
    expect(core.actions('process.*')).toEqual([]);
    expect(core.actions('process.**')).toEqual(['process.output.chunk']);
  });
});

describe('Action.run', () => {
  it('good: runs the handler with validated input and returns ok', async () => {
    const core = testCore();
    core.action('math.add', ({ a, b }: { a: number; b: number }) => a + b, {
      schema: z.object({ a: z.number(), b: z.number().default(10) }),
    });
    expect(await core.action('math.add').run({ a: 1 })).toEqual({ ok: true, value: 11 });
    expect(core.action('math.add').stats()).toEqual({ runs: 1, failures: 0, denied: 0 });
  });

  it('bad: without the process service, process.run is not registered and nothing runs', async () => {
    const core = testCore();
    const file = path.join(dir, 'not-created-by-action');
    const r = await core.action('process.run').run({ command: 'touch', args: [file] });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ kind: 'NotRegistered', action: 'process.run' });
    expect(!r.ok && r.error.message).toBe('action process.run: not registered');
    expect(existsSync(file)).toBe(false);
    expect(core.action('process.run').exists()).toBe(false);
  });

  it('bad: input that fails the schema is a failed Result naming the field, handler not run', async () => {
    const core = testCore();
    let ran = false;
    core.action(
      'proc.like',
      () => {
        ran = true;
      },
      { schema: z.object({ command: z.string(), args: z.array(z.string()) }) },
    );
    const r = await core.action('proc.like').run({ command: 'ls', args: ['-l', 3] });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ kind: 'InvalidInput', field: 'args.1' });
    expect(!r.ok && r.error.message).toMatch(/^action proc.like: invalid input at args.1: /);
    expect(ran).toBe(false);
  });

  it('ugly: a throwing handler becomes a failed Result, is logged and counted, and the core keeps working', async () => {
    const core = testCore();
    core.action('boom.sync', () => {
      throw new Error('kaput');
    });
    core.action('boom.async', async () => Promise.reject('a string, not an Error'));
    core.action('fine', () => 'still here');
    const r1 = await core.action('boom.sync').run();
    const r2 = await core.action('boom.async').run();
    expect(!r1.ok && r1.error).toMatchObject({ kind: 'HandlerFailed', action: 'boom.sync' });
    expect(!r1.ok && r1.error.message).toBe('action boom.sync: handler failed: kaput');
    expect(!r1.ok && (r1.error.cause as Error).message).toBe('kaput');
    expect(!r2.ok && r2.error.message).toContain('a string, not an Error');
    expect(core.stats().actionFailures).toBe(2);
    expect(core.action('boom.sync').stats().failures).toBe(1);
    expect(core.log.filter((l) => l.level === 'error').map((l) => l.message)).toEqual([
      'action boom.sync failed',
      'action boom.async failed',
    ]);
    expect(await core.action('fine').run()).toEqual({ ok: true, value: 'still here' });
  });

  it('good: a domain error comes back with its kind at error.kind, counted but not logged as a crash', async () => {
    const core = testCore();
    core.action('git.status', () => {
      throw new ProcessError('NonZeroExit', 'git exited with code 128', { code: 128 });
    });
    core.action('thread.join', () => fail(new ThreadError('TimedOut', 'join timed out')));
    const r = await core.action('git.status').run();
    expect(!r.ok && r.error).toMatchObject({
      kind: 'NonZeroExit',
      action: 'git.status',
      origin: 'ProcessError',
      code: 128,
      message: 'action git.status: git exited with code 128',
    });
    expect(!r.ok && r.error.cause).toBeInstanceOf(ProcessError);
    const t = await core.action('thread.join').run();
    expect(!t.ok && t.error).toMatchObject({ kind: 'TimedOut', origin: 'ThreadError' });
    expect(core.stats().actionFailures).toBe(2);
    expect(core.log).toEqual([]);
  });

  it('ugly: a handler returning a failed Result is a failure; a CoreError passes through', async () => {
    const core = testCore();
    core.action('soft.fail', () => fail(new Error('expected failure')));
    core.action('nested', (_i, { core: c }) => c.action('missing').run());
    const r = await core.action('soft.fail').run();
    expect(!r.ok && r.error).toMatchObject({
      kind: 'HandlerFailed',
      message: 'action soft.fail: handler failed: expected failure',
    });
    const n = await core.action('nested').run();
    expect(!n.ok && n.error).toMatchObject({ kind: 'NotRegistered', action: 'missing' });
  });

  it('ugly: an abort resolves the run as Aborted without waiting for the handler', async () => {
    const core = testCore();
    let sawSignal: AbortSignal | undefined;
    core.action('slow', (_i, { signal }) => {
      sawSignal = signal;
      return new Promise(() => {});
    });
    const ac = new AbortController();
    const pending = core.action('slow').run(undefined, { signal: ac.signal });
    await until(() => sawSignal !== undefined);
    ac.abort(new Error('user gave up'));
    const r = await pending;
    expect(!r.ok && r.error).toMatchObject({
      kind: 'Aborted',
      message: 'action slow: aborted: user gave up',
    });
    expect(sawSignal?.aborted).toBe(true);
    const pre = await core.action('slow').run(undefined, { signal: AbortSignal.abort() });
    expect(!pre.ok && pre.error.kind).toBe('Aborted');
  });
});

describe('Action.run entitlement gate', () => {
  it('good: the default checker allows everything', async () => {
    const core = testCore();
    core.action('x', () => 1);
    expect((await core.action('x').run()).ok).toBe(true);
  });

  it('bad: a registered but not entitled action fails with the reason and publishes security.denied', async () => {
    const core = testCore();
    let ran = false;
    core.action('process.run', () => {
      ran = true;
    });
    core.setEntitlementChecker((action) =>
      action.startsWith('process.')
        ? { allowed: false, reason: 'sandboxed workspace' }
        : { allowed: true },
    );
    const denied: CoreEvent[] = [];
    core.events.subscribe('security.denied', (e) => {
      denied.push(e);
    });
    const r = await core.action('process.run').run({ command: 'true' });
    expect(!r.ok && r.error).toMatchObject({ kind: 'NotEntitled', reason: 'sandboxed workspace' });
    expect(!r.ok && r.error.message).toBe('action process.run: not entitled: sandboxed workspace');
    expect(ran).toBe(false);
    await until(() => denied.length === 1);
    expect(denied[0]?.payload).toEqual({
      core: 'test',
      action: 'process.run',
      quantity: 1,
      reason: 'sandboxed workspace',
    });
    expect(core.stats().denied).toBe(1);
  });

  it('ugly: a throwing checker fails closed', async () => {
    const core = testCore();
    core.action('x', () => 1);
    core.setEntitlementChecker(() => {
      throw new Error('db down');
    });
    const r = await core.action('x').run();
    expect(!r.ok && r.error.message).toBe(
      'action x: not entitled: entitlement checker failed: db down',
    );
  });
});
