// core.process(): sugar over process.run / process.start; it runs nothing on its own.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ProcessRunInput,
  processRunInputSchema,
  processStartInputSchema,
} from '../../lib/core/index.js';
import { testCore } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'core-sugar-'));

function fakeProcessCore() {
  const core = testCore();
  const calls: unknown[] = [];
  core.action(
    'process.run',
    (input: ProcessRunInput) => {
      calls.push(input);
      return `ran ${input.command}`;
    },
    { schema: processRunInputSchema },
  );
  core.action(
    'process.start',
    (input) => {
      calls.push(input);
      return { id: 'p1', pid: null };
    },
    { schema: processStartInputSchema },
  );
  return { core, calls };
}

describe('ProcessApi.run/runIn/runWithEnv', () => {
  it('good: maps arguments onto the process.run input', async () => {
    const { core, calls } = fakeProcessCore();
    expect(await core.process().run('git', 'log', '-1')).toEqual({ ok: true, value: 'ran git' });
    await core.process().runIn('/repo', 'git', 'status');
    await core.process().runWithEnv('/repo', { GIT_PAGER: 'cat' }, 'git', 'log');
    await core.process().runWithEnv('/repo', ['GOWORK=off'], 'go', 'test');
    expect(calls).toEqual([
      { command: 'git', args: ['log', '-1'] },
      { command: 'git', args: ['status'], dir: '/repo' },
      { command: 'git', args: ['log'], dir: '/repo', env: { GIT_PAGER: 'cat' } },
      { command: 'go', args: ['test'], dir: '/repo', env: ['GOWORK=off'] },
    ]);
  });

  it('bad: without the process service the answer is not registered and the file is not created', async () => {
    const core = testCore();
    const file = path.join(dir, 'not-created-by-sugar');
    const r = await core.process().run('touch', file);
    expect(r).toMatchObject({
      ok: false,
      error: { kind: 'NotRegistered', message: 'action process.run: not registered' },
    });
    expect(existsSync(file)).toBe(false);
  });

  it('ugly: an empty command is refused by the schema, naming the field', async () => {
    const { core, calls } = fakeProcessCore();
    const r = await core.process().run('');
    expect(r).toMatchObject({ ok: false, error: { kind: 'InvalidInput', field: 'command' } });
    expect(calls).toEqual([]);
  });
});

describe('ProcessApi.start', () => {
  it('good: passes spawn-like options through and returns a handle on the id', async () => {
    const { core, calls } = fakeProcessCore();
    const r = await core
      .process()
      .start({ command: 'sleep', args: ['60'], detach: true, stdout: 'null' });
    expect(r.ok && r.value.id).toBe('p1');
    expect(calls[0]).toEqual({ command: 'sleep', args: ['60'], detach: true, stdout: 'null' });
  });

  it('bad: not registered without the service', async () => {
    const r = await testCore()
      .process()
      .start({ command: 'sleep', args: ['60'] });
    expect(r).toMatchObject({ ok: false, error: { kind: 'NotRegistered' } });
  });

  it('ugly: a wrong type for a known field is refused', async () => {
    const { core } = fakeProcessCore();
    // @ts-expect-error: deliberately wrong type
    const r = await core.process().start({ command: 'sleep', args: 'not-an-array' });
    expect(r).toMatchObject({ ok: false, error: { kind: 'InvalidInput', field: 'args' } });
  });
});
