// Tasks: sequences that stop on failure, piping, parallel groups and branches.
import { describe, expect, it } from 'vitest';
import { CoreError } from '../../lib/core/index.js';
import { testCore } from './helpers.js';

/** A core whose actions record their calls into `trail` (the side effects the tests check). */
function recordingCore() {
  const core = testCore();
  const trail: string[] = [];
  core.action('step.echo', (input: unknown) => {
    trail.push(`echo:${JSON.stringify(input)}`);
    return input;
  });
  core.action('step.double', (n: number) => {
    trail.push(`double:${n}`);
    return n * 2;
  });
  core.action('step.fail', () => {
    trail.push('fail');
    throw new Error('tests failed');
  });
  core.action('step.mark', (label: string) => {
    trail.push(`mark:${label}`);
    return label;
  });
  return { core, trail };
}

describe('core.task (register)', () => {
  it('good: registers and reports exists/def', () => {
    const { core } = recordingCore();
    core.task('t', { description: 'd', steps: [{ action: 'step.echo' }] });
    expect(core.task('t').exists()).toBe(true);
    expect(core.task('t').def()?.description).toBe('d');
    expect(core.tasks()).toEqual(['t']);
  });

  it('bad: a malformed definition is refused at registration, naming the field', () => {
    const { core } = recordingCore();
    expect(() => core.task('t', { steps: [{ action: 'a' }, { action: '' }] })).toThrow(
      expect.objectContaining({ kind: 'InvalidInput', field: 'steps.1.action' }),
    );
    expect(() => core.task('t', { steps: [] })).toThrow(/steps must be a non-empty array/);
    expect(() => core.task('t', { steps: [{ action: 'a', with: 1, input: 'previous' }] })).toThrow(
      /not both/,
    );
    expect(core.task('t').exists()).toBe(false);
  });

  it('ugly: duplicates need replace; steps and parallel together are refused', () => {
    const { core } = recordingCore();
    core.task('t', { steps: [{ action: 'a' }] });
    expect(() => core.task('t', { steps: [{ action: 'b' }] })).toThrow(
      expect.objectContaining({ kind: 'Duplicate' }),
    );
    core.task('t', { steps: [{ action: 'b' }] }, { replace: true });
    expect(() => core.task('u', { steps: [{ action: 'a' }], parallel: [{ action: 'b' }] })).toThrow(
      /exactly one/,
    );
  });
});

describe('Task.run (sequence)', () => {
  it('good: runs steps in order, pipes previous, and reports every step', async () => {
    const { core, trail } = recordingCore();
    core.task('pipe', {
      steps: [
        { action: 'step.double', with: 3 },
        { action: 'step.double', input: 'previous' },
        { action: 'step.echo' },
      ],
    });
    const r = await core.task('pipe').run('task-input');
    expect(trail).toEqual(['double:3', 'double:6', 'echo:"task-input"']);
    expect(r.ok && r.value.value).toBe('task-input');
    expect(r.ok && r.value.steps.map((s) => [s.path, s.action, s.result])).toEqual([
      ['0', 'step.double', { ok: true, value: 6 }],
      ['1', 'step.double', { ok: true, value: 12 }],
      ['2', 'step.echo', { ok: true, value: 'task-input' }],
    ]);
  });

  it('bad: stops at the first failure; later steps do not run', async () => {
    const { core, trail } = recordingCore();
    core.task('deploy', {
      steps: [
        { action: 'step.mark', with: 'build' },
        { action: 'step.fail' },
        { action: 'step.mark', with: 'ship' },
      ],
    });
    const r = await core.task('deploy').run();
    expect(trail).toEqual(['mark:build', 'fail']);
    expect(r.ok).toBe(false);
    const error = !r.ok ? r.error : undefined;
    expect(error).toBeInstanceOf(CoreError);
    expect(error).toMatchObject({ kind: 'HandlerFailed', task: 'deploy' });
    expect(error?.message).toBe(
      'task deploy: step 1 failed: action step.fail: handler failed: tests failed',
    );
    expect(error?.steps?.map((s) => s.result.ok)).toEqual([true, false]);
  });

  it('ugly: an unregistered task or step action fails cleanly, and an abort stops between steps', async () => {
    const { core, trail } = recordingCore();
    expect(await core.task('nope').run()).toMatchObject({
      ok: false,
      error: { kind: 'NotRegistered' },
    });
    core.task('missing', {
      steps: [
        { action: 'process.run', with: { command: 'true' } },
        { action: 'step.mark', with: 'x' },
      ],
    });
    const r = await core.task('missing').run();
    expect(r).toMatchObject({ ok: false, error: { kind: 'NotRegistered' } });
    expect(trail).toEqual([]);
    const ac = new AbortController();
    core.action('step.abort', () => ac.abort());
    core.task('aborting', {
      steps: [{ action: 'step.abort' }, { action: 'step.mark', with: 'after' }],
    });
    expect(await core.task('aborting').run(undefined, { signal: ac.signal })).toMatchObject({
      ok: false,
      error: { kind: 'Aborted' },
    });
    expect(trail).toEqual([]);
  });
});

describe('Task.run (parallel)', () => {
  it('good: a parallel group runs every member and gives their values in order', async () => {
    const { core, trail } = recordingCore();
    core.task('sweep', {
      steps: [
        {
          parallel: [
            { action: 'step.mark', with: 'io' },
            { action: 'step.mark', with: 'log' },
          ],
        },
        { action: 'step.echo', input: 'previous' },
      ],
    });
    const r = await core.task('sweep').run();
    expect([...trail].slice(0, 2).sort()).toEqual(['mark:io', 'mark:log']);
    expect(r.ok && r.value.value).toEqual(['io', 'log']);
    expect(r.ok && r.value.steps.map((s) => s.path)).toContain('0.1');
  });

  it('bad: a failing member fails the group, but the group still waits for the others', async () => {
    const { core, trail } = recordingCore();
    core.action('step.slow', async (label: string) => {
      await new Promise((res) => setTimeout(res, 20));
      trail.push(`slow:${label}`);
      return label;
    });
    core.task('t', { parallel: [{ action: 'step.fail' }, { action: 'step.slow', with: 'done' }] });
    const r = await core.task('t').run();
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toMatch(/^task t: step 0\.0 failed/);
    expect(trail).toContain('slow:done');
  });

  it('ugly: every member sees the same previous value', async () => {
    const { core } = recordingCore();
    core.task('t', {
      steps: [
        { action: 'step.double', with: 5 },
        {
          parallel: [
            { action: 'step.double', input: 'previous' },
            { action: 'step.echo', input: 'previous' },
          ],
        },
      ],
    });
    const r = await core.task('t').run();
    expect(r.ok && r.value.value).toEqual([20, 10]);
  });
});

describe('Task.run (if/then/else)', () => {
  it('good: then runs after success', async () => {
    const { core, trail } = recordingCore();
    core.task('qa', {
      steps: [
        { action: 'step.mark', with: 'test' },
        {
          if: 'previous.ok',
          then: { action: 'step.mark', with: 'merge' },
          else: { action: 'step.mark', with: 'flag' },
        },
      ],
    });
    const r = await core.task('qa').run();
    expect(trail).toEqual(['mark:test', 'mark:merge']);
    expect(r.ok && r.value.steps.map((s) => s.path)).toEqual(['0', '1.then']);
  });

  it('bad: else handles a failure, and the task succeeds with the branch value', async () => {
    const { core, trail } = recordingCore();
    core.task('qa', {
      steps: [
        { action: 'step.fail' },
        {
          if: 'previous.ok',
          then: { action: 'step.mark', with: 'merge' },
          else: { action: 'step.mark', with: 'flag' },
        },
      ],
    });
    const r = await core.task('qa').run();
    expect(trail).toEqual(['fail', 'mark:flag']);
    expect(r.ok && r.value.value).toBe('flag');
  });

  it('ugly: a failure no branch handles still stops the task; a predicate condition works', async () => {
    const { core, trail } = recordingCore();
    core.task('strict', {
      steps: [
        { action: 'step.fail' },
        { if: 'previous.ok', then: { action: 'step.mark', with: 'merge' } },
        { action: 'step.mark', with: 'after' },
      ],
    });
    const r = await core.task('strict').run();
    expect(r.ok).toBe(false);
    expect(trail).toEqual(['fail']);
    core.task('pred', {
      steps: [
        { action: 'step.double', with: 4 },
        { if: (prev) => prev.ok && prev.value === 8, then: { action: 'step.mark', with: 'eight' } },
      ],
    });
    expect(await core.task('pred').run()).toMatchObject({ ok: true, value: { value: 'eight' } });
  });
});
