// runAll: dependency order, skipping, concurrency, timeouts, cancellation and output, each
// checked from outside the runner: trace files the specs write, marker files, /proc.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessHandle } from '../../lib/process/handle.js';
import type { SpawnOptions } from '../../lib/process/options.js';
import { spawn } from '../../lib/process/spawn.js';
import { PipelineError } from '../../lib/runner/errors.js';
import { runAll } from '../../lib/runner/run.js';
import type { PipelineSpec, ProgressEvent } from '../../lib/runner/spec.js';
import { eventually, tempDir } from '../helpers.js';
import {
  at,
  killGroup,
  lines,
  liveGroupMembers,
  marking,
  maxOverlap,
  ran,
  rejection,
  traced,
} from './helpers.js';

// Groups a test leaves behind on failure (or on purpose), killed after each test.
const leftovers: number[] = [];
afterEach(() => {
  for (const pgid of leftovers.splice(0)) killGroup(pgid);
});

/** A spawner that counts and records what it was asked, then spawns for real. */
function recordingStart(): {
  start: (o: SpawnOptions) => ProcessHandle;
  seen: SpawnOptions[];
} {
  const seen: SpawnOptions[] = [];
  return {
    seen,
    start: (o) => {
      seen.push(o);
      const h = spawn(o);
      leftovers.push(h.pid);
      return h;
    },
  };
}

/** Rejected before anything ran: the spawner was never called and no marker appears. */
async function expectNothingRan(dir: string, names: string[], seen: SpawnOptions[]): Promise<void> {
  // Long enough for a wrongly started `touch` to have run; the spawner count is the proof.
  await sleep(200);
  expect(seen).toEqual([]);
  for (const n of names) expect(ran(dir, n)).toBe(false);
}

describe('runAll', () => {
  it('good: a diamond runs a first, b and c together, d after both', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'trace');
    const result = await runAll(
      [
        traced('a', log),
        traced('b', log, { after: ['a'], seconds: 0.5 }),
        traced('c', log, { after: ['a'], seconds: 0.5 }),
        traced('d', log, { after: ['b', 'c'] }),
      ],
      { concurrency: 4 },
    );
    const t = lines(log);
    expect(at(t, 'a-end')).toBeLessThan(at(t, 'b-start'));
    expect(at(t, 'a-end')).toBeLessThan(at(t, 'c-start'));
    // b and c overlap: each started before the other ended.
    expect(at(t, 'b-start')).toBeLessThan(at(t, 'c-end'));
    expect(at(t, 'c-start')).toBeLessThan(at(t, 'b-end'));
    expect(at(t, 'd-start')).toBeGreaterThan(at(t, 'b-end'));
    expect(at(t, 'd-start')).toBeGreaterThan(at(t, 'c-end'));
    expect(result).toMatchObject({ passed: 4, failed: 0, skipped: 0, success: true });
    expect(result.specs.map((s) => s.name)).toEqual(['a', 'b', 'c', 'd']);
    expect(result.specs.every((s) => s.exitStatus?.code === 0 && s.error === undefined)).toBe(true);
  });

  it('good: ready specs start in declared order when slots are scarce', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'trace');
    await runAll([traced('z', log), traced('y', log), traced('x', log)], { concurrency: 1 });
    expect(lines(log)).toEqual(['z-start', 'z-end', 'y-start', 'y-end', 'x-start', 'x-end']);
  });

  it('good: a failed dependency skips its dependents transitively; an independent branch still runs', async () => {
    const dir = tempDir();
    const result = await runAll(
      [
        marking('build', dir, { code: 2 }),
        marking('test', dir, { after: ['build'] }),
        marking('deploy', dir, { after: ['test'] }),
        marking('lint', dir),
      ],
      { concurrency: 2 },
    );
    expect(ran(dir, 'build')).toBe(true);
    expect(ran(dir, 'test')).toBe(false);
    expect(ran(dir, 'deploy')).toBe(false);
    expect(ran(dir, 'lint')).toBe(true);
    const [build, test, deploy, lint] = result.specs;
    expect(build).toMatchObject({ status: 'failed', exitStatus: { code: 2 } });
    expect(test).toMatchObject({
      status: 'skipped',
      exitStatus: null,
      error: 'dependency build failed',
    });
    expect(deploy).toMatchObject({
      status: 'skipped',
      error: 'dependency test skipped (build failed)',
    });
    expect(lint).toMatchObject({ status: 'passed' });
    expect(result).toMatchObject({
      passed: 1,
      failed: 1,
      skipped: 2,
      success: false,
      cancelled: false,
    });
  });

  it('good: allowFailure lets dependents run and keeps success true, while still counting the failure', async () => {
    const dir = tempDir();
    const result = await runAll([
      marking('audit', dir, { code: 3, allowFailure: true }),
      marking('test', dir, { after: ['audit'] }),
    ]);
    expect(ran(dir, 'test')).toBe(true);
    expect(result.specs[0]).toMatchObject({ status: 'failed', exitStatus: { code: 3 } });
    expect(result.specs[1]).toMatchObject({ status: 'passed' });
    expect(result).toMatchObject({ passed: 1, failed: 1, skipped: 0, success: true });
  });

  it('good: every spec leads its own process group with stdin from /dev/null', async () => {
    const pids = new Map<string, number>();
    const result = await runAll(
      [
        {
          name: 'probe',
          command: 'sh',
          args: ['-c', 'ps -o pgid= -p $$; readlink /proc/$$/fd/0'],
        },
      ],
      { onProgress: (e) => e.type === 'started' && pids.set(e.name, e.pid) },
    );
    const [pgid, stdin] = (result.specs[0]?.output ?? '').trim().split('\n');
    expect(Number(pgid)).toBe(pids.get('probe'));
    expect(stdin).toBe('/dev/null');
  });

  it('good: output interleaves stdout and stderr in arrival order', async () => {
    const result = await runAll([
      {
        name: 'talk',
        command: 'sh',
        args: ['-c', 'echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2'],
      },
    ]);
    expect(result.specs[0]?.output).toBe('out1\nerr1\nout2\n');
  });

  it('good: output keeps only the newest maxOutput bytes', async () => {
    const result = await runAll([{ name: 'loud', command: 'seq', args: ['1', '100000'] }], {
      maxOutput: 20,
    });
    let all = '';
    for (let i = 1; i <= 100_000; i++) all += `${i}\n`;
    expect(result.specs[0]?.output).toBe(all.slice(-20));
    expect(result.specs[0]?.status).toBe('passed');
  });

  it('good: the injected start spawns every spec, with the runner-owned options', async () => {
    const { start, seen } = recordingStart();
    const result = await runAll(
      [
        { name: 'a', command: 'true', timeout: 5000, env: { MARK: '1' } },
        { name: 'b', command: 'sh', args: ['-c', 'exit 0'], after: ['a'], allowFailure: true },
      ],
      { start },
    );
    expect(result.success).toBe(true);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toEqual({
      program: 'true',
      args: [],
      timeout: 5000,
      env: { MARK: '1' },
      processGroup: true,
      stdin: 'null',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    expect(seen[1]).toEqual({
      program: 'sh',
      args: ['-c', 'exit 0'],
      processGroup: true,
      stdin: 'null',
      stdout: 'pipe',
      stderr: 'pipe',
    });
  });

  it('good: onProgress reports each spec once: started then finished, finished alone, or skipped', async () => {
    const events: ProgressEvent[] = [];
    const result = await runAll(
      [
        { name: 'ok', command: 'true' },
        { name: 'bad', command: 'false' },
        { name: 'after-bad', command: 'true', after: ['bad'] },
        { name: 'ghost', command: 'no-such-program-for-runner-tests' },
      ],
      { onProgress: (e) => events.push(e) },
    );
    const of = (name: string) =>
      events
        .filter((e) => (e.type === 'started' ? e.name : e.result.name) === name)
        .map((e) => e.type);
    expect(of('ok')).toEqual(['started', 'finished']);
    expect(of('bad')).toEqual(['started', 'finished']);
    expect(of('after-bad')).toEqual(['skipped']);
    expect(of('ghost')).toEqual(['finished']);
    for (const e of events) {
      if (e.type === 'started') {
        const r = result.specs.find((s) => s.name === e.name);
        expect(r?.exitStatus?.pid).toBe(e.pid);
      } else {
        expect(result.specs).toContain(e.result);
      }
    }
  });

  it('bad: a 2-cycle, a 3-cycle and a self-dependency are rejected naming the cycle, and nothing ran', async () => {
    const cases: Array<{
      specs: (dir: string) => PipelineSpec[];
      message: string;
      names: string[];
    }> = [
      {
        specs: (d) => [marking('a', d, { after: ['b'] }), marking('b', d, { after: ['a'] })],
        message: 'pipeline: dependency cycle a -> b -> a',
        names: ['a', 'b'],
      },
      {
        specs: (d) => [
          marking('free', d),
          marking('c', d, { after: ['a'] }),
          marking('a', d, { after: ['b'] }),
          marking('b', d, { after: ['c'] }),
        ],
        // Read as "waits for", starting at the member declared first.
        message: 'pipeline: dependency cycle c -> a -> b -> c',
        names: ['c', 'a', 'b'],
      },
      {
        specs: (d) => [marking('free', d), marking('me', d, { after: ['free', 'me'] })],
        message: 'pipeline: spec "me" depends on itself',
        names: ['me'],
      },
    ];
    for (const c of cases) {
      const dir = tempDir();
      const specs = c.specs(dir);
      const { start, seen } = recordingStart();
      const e = await rejection(runAll(specs, { start }));
      expect(e).toBeInstanceOf(PipelineError);
      expect(e.kind).toBe('InvalidPipeline');
      expect(e.message).toBe(c.message);
      expect(e.names).toEqual(c.names);
      await expectNothingRan(
        dir,
        specs.map((s) => s.name),
        seen,
      );
    }
  });

  it('bad: an unknown dependency is rejected naming the spec and the missing name, and nothing ran', async () => {
    const dir = tempDir();
    const { start, seen } = recordingStart();
    const e = await rejection(
      runAll([marking('build', dir), marking('test', dir, { after: ['biuld'] })], { start }),
    );
    expect(e.message).toBe('pipeline: spec "test" depends on unknown spec "biuld"');
    expect(e.names).toEqual(['test']);
    await expectNothingRan(dir, ['build', 'test'], seen);
  });

  it('bad: duplicate names are rejected naming the name and both positions, and nothing ran', async () => {
    const dir = tempDir();
    const { start, seen } = recordingStart();
    const e = await rejection(
      runAll([marking('build', dir), marking('lint', dir), marking('build', dir)], { start }),
    );
    expect(e.message).toBe('pipeline: duplicate spec name "build" (specs[0] and specs[2])');
    expect(e.names).toEqual(['build']);
    await expectNothingRan(dir, ['build', 'lint'], seen);
  });

  it('bad: an empty name and a missing command are both reported in one rejection', async () => {
    const { start, seen } = recordingStart();
    const e = await rejection(
      runAll(
        [
          { name: '', command: 'true' },
          { name: 'lint', command: '' },
        ],
        { start },
      ),
    );
    expect(e.message).toBe(
      'pipeline: specs[0] has no name (got ""); spec "lint" has no command (got "")',
    );
    expect(e.names).toEqual(['specs[0]', 'lint']);
    expect(seen).toEqual([]);
  });

  it('bad: a concurrency that is not an integer >= 1 is rejected naming the value', async () => {
    for (const concurrency of [0, -1, 1.5, Number.NaN]) {
      const e = await rejection(runAll([{ name: 'a', command: 'true' }], { concurrency }));
      expect(e.message).toBe(
        `pipeline: invalid concurrency: ${concurrency} must be an integer >= 1`,
      );
      expect(e.names).toEqual([]);
    }
  });

  it('bad: a spawn failure fails that spec with ENOENT, skips its dependents, and other specs still run', async () => {
    const dir = tempDir();
    const result = await runAll([
      { name: 'ghost', command: 'no-such-program-for-runner-tests' },
      marking('after-ghost', dir, { after: ['ghost'] }),
      marking('other', dir),
    ]);
    const [ghost, dependent, other] = result.specs;
    expect(ghost).toMatchObject({ status: 'failed', exitStatus: null, output: '' });
    expect(ghost?.error).toMatch(/no-such-program-for-runner-tests.*ENOENT/);
    expect(dependent).toMatchObject({ status: 'skipped', error: 'dependency ghost failed' });
    expect(other?.status).toBe('passed');
    expect(ran(dir, 'after-ghost')).toBe(false);
    expect(ran(dir, 'other')).toBe(true);
  });

  it('bad: invalid spawn options fail only that spec when it starts, not the pipeline', async () => {
    const dir = tempDir();
    const result = await runAll([
      marking('fine', dir),
      { name: 'broken', command: 'true', timeout: -5, after: ['fine'] },
      marking('later', dir, { after: ['broken'] }),
    ]);
    expect(result.specs[0]?.status).toBe('passed');
    expect(result.specs[1]).toMatchObject({ status: 'failed', exitStatus: null });
    expect(result.specs[1]?.error).toMatch(/invalid timeout: -5/);
    expect(result.specs[2]).toMatchObject({ status: 'skipped', error: 'dependency broken failed' });
    expect(ran(dir, 'later')).toBe(false);
  });

  it('bad: when the injected start throws, that spec fails with its error and its dependents are skipped', async () => {
    const dir = tempDir();
    const result = await runAll(
      [marking('deny-me', dir), marking('after', dir, { after: ['deny-me'] }), marking('ok', dir)],
      {
        start: (o) => {
          if (String(o.args?.[1]).includes('deny-me')) {
            throw new Error('policy: spawn of "sh" denied for deny-me');
          }
          return spawn(o);
        },
      },
    );
    expect(result.specs[0]).toMatchObject({
      status: 'failed',
      exitStatus: null,
      error: 'policy: spawn of "sh" denied for deny-me',
    });
    expect(result.specs[1]).toMatchObject({
      status: 'skipped',
      error: 'dependency deny-me failed',
    });
    expect(result.specs[2]?.status).toBe('passed');
    expect(ran(dir, 'deny-me')).toBe(false);
    expect(ran(dir, 'ok')).toBe(true);
  });

  it('ugly: with concurrency 2, five sleeping specs never have more than 2 alive at once', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'trace');
    const specs = ['s1', 's2', 's3', 's4', 's5'].map((n) => traced(n, log, { seconds: 0.4 }));
    const result = await runAll(specs, { concurrency: 2 });
    const t = lines(log);
    expect(t).toHaveLength(10);
    expect(maxOverlap(t)).toBe(2);
    expect(result.passed).toBe(5);
  });

  it('ugly: a spec past its timeout fails saying so, and its whole group is gone', async () => {
    let pid = 0;
    const result = await runAll([{ name: 'slow', command: 'sleep', args: ['10'], timeout: 200 }], {
      onProgress: (e) => {
        if (e.type === 'started') {
          pid = e.pid;
          leftovers.push(pid);
        }
      },
    });
    const slow = result.specs[0];
    expect(slow?.status).toBe('failed');
    expect(slow?.error).toMatch(/^timed out after 200 ms \(killed by SIGTERM\)$/);
    expect(slow?.exitStatus?.signal).toBe('SIGTERM');
    expect(pid).toBeGreaterThan(0);
    expect(liveGroupMembers(pid)).toEqual([]);
    expect(result.success).toBe(false);
    expect(result.durationMs).toBeLessThan(9000);
  });

  it('ugly: cancelling kills the running group with its grandchildren, skips the dependent, and resolves only once they are gone', async () => {
    const dir = tempDir();
    const ac = new AbortController();
    let resolveStarted!: (pid: number) => void;
    const started = new Promise<number>((r) => {
      resolveStarted = r;
    });
    const events: ProgressEvent[] = [];
    const pipeline = runAll(
      [
        { name: 'hang', command: 'sh', args: ['-c', 'sleep 30 & sleep 30 & wait'] },
        marking('dependent', dir, { after: ['hang'] }),
      ],
      {
        signal: ac.signal,
        onProgress: (e) => {
          events.push(e);
          if (e.type === 'started') resolveStarted(e.pid);
        },
      },
    );
    const pgid = await started;
    leftovers.push(pgid);
    // The shell and both sleeps are in the group before we cancel, or the test proves little.
    expect(await eventually(() => liveGroupMembers(pgid).length === 3)).toBe(true);
    ac.abort();
    const result = await pipeline;
    expect(liveGroupMembers(pgid)).toEqual([]);
    expect(result.specs[0]?.status).toBe('failed');
    expect(result.specs[0]?.exitStatus?.signal).toBe('SIGTERM');
    expect(result.specs[0]?.error).toBe('cancelled while running (killed by SIGTERM)');
    expect(result.specs[1]).toMatchObject({ status: 'skipped', error: 'cancelled' });
    expect(result).toMatchObject({ cancelled: true, success: false, failed: 1, skipped: 1 });
    expect(ran(dir, 'dependent')).toBe(false);
    expect(events.map((e) => e.type)).toEqual(['started', 'skipped', 'finished']);
  });

  it('ugly: a group that ignores SIGTERM is killed with SIGKILL after the spec’s killGrace', async () => {
    const ac = new AbortController();
    let pgid = 0;
    const pipeline = runAll(
      [
        {
          name: 'stubborn',
          command: 'sh',
          // The ignored disposition is inherited by the sleep through exec.
          args: ['-c', 'trap "" TERM; sleep 30 & wait'],
          killGrace: 300,
        },
      ],
      {
        signal: ac.signal,
        onProgress: (e) => {
          if (e.type === 'started') {
            pgid = e.pid;
            leftovers.push(pgid);
          }
        },
      },
    );
    expect(await eventually(() => pgid > 0 && liveGroupMembers(pgid).length === 2)).toBe(true);
    ac.abort();
    const result = await pipeline;
    expect(liveGroupMembers(pgid)).toEqual([]);
    expect(result.specs[0]?.exitStatus?.signal).toBe('SIGKILL');
    expect(result.specs[0]?.error).toBe('cancelled while running (killed by SIGKILL)');
    expect(result.cancelled).toBe(true);
  });

  it('ugly: a grandchild that ignores SIGTERM and outlives its shell is killed with SIGKILL before the pipeline resolves', async () => {
    const ac = new AbortController();
    let pgid = 0;
    const pipeline = runAll(
      [
        {
          name: 'orphaning',
          command: 'sh',
          // The shell dies on SIGTERM; the sleep, which holds the output pipe, ignores it.
          args: ['-c', '(trap "" TERM; exec sleep 30) & wait'],
          // Longer than the output drain after exit, so only the SIGKILL can end the wait.
          killGrace: 1500,
        },
      ],
      {
        signal: ac.signal,
        onProgress: (e) => {
          if (e.type === 'started') {
            pgid = e.pid;
            leftovers.push(pgid);
          }
        },
      },
    );
    expect(await eventually(() => pgid > 0 && liveGroupMembers(pgid).length === 2)).toBe(true);
    ac.abort();
    const result = await pipeline;
    expect(result.specs[0]?.exitStatus?.signal).toBe('SIGTERM');
    expect(liveGroupMembers(pgid)).toEqual([]);
  });

  it('ugly: an already-aborted signal runs nothing and skips every spec as cancelled', async () => {
    const dir = tempDir();
    const { start, seen } = recordingStart();
    const events: ProgressEvent[] = [];
    const result = await runAll([marking('a', dir), marking('b', dir, { after: ['a'] })], {
      signal: AbortSignal.abort(),
      start,
      onProgress: (e) => events.push(e),
    });
    expect(seen).toEqual([]);
    expect(result.specs.map((s) => [s.status, s.error])).toEqual([
      ['skipped', 'cancelled'],
      ['skipped', 'cancelled'],
    ]);
    expect(result).toMatchObject({ cancelled: true, success: false, skipped: 2 });
    expect(events.map((e) => e.type)).toEqual(['skipped', 'skipped']);
    expect(existsSync(path.join(dir, 'a'))).toBe(false);
  });

  it('ugly: a background grandchild holding the output pipe does not hold the pipeline', async () => {
    let pgid = 0;
    const result = await runAll(
      [{ name: 'daemonish', command: 'sh', args: ['-c', 'sleep 30 & echo launched'] }],
      {
        onProgress: (e) => {
          if (e.type === 'started') {
            pgid = e.pid;
            leftovers.push(pgid);
          }
        },
      },
    );
    expect(result.specs[0]).toMatchObject({ status: 'passed', output: 'launched\n' });
    expect(result.durationMs).toBeLessThan(10_000);
    // The sleep is still there: the runner stops reading, it does not kill a passed spec's group.
    expect(liveGroupMembers(pgid)).toHaveLength(1);
  });

  it('ugly: an onProgress that throws is reported as a warning and stops nothing', async () => {
    const dir = tempDir();
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const result = await runAll([marking('a', dir), marking('b', dir, { after: ['a'] })], {
        onProgress: () => {
          throw new Error('display broke');
        },
      });
      expect(result).toMatchObject({ passed: 2, success: true });
      expect(ran(dir, 'b')).toBe(true);
      // Warnings are emitted on the next tick.
      expect(await eventually(() => warnings.length === 4)).toBe(true);
      expect(warnings[0]?.name).toBe('PipelineWarning');
      expect(warnings[0]?.message).toBe(
        'pipeline: onProgress threw on started of spec "a": display broke',
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('ugly: an empty pipeline succeeds without running anything', async () => {
    const result = await runAll([]);
    expect(result).toMatchObject({
      specs: [],
      passed: 0,
      failed: 0,
      skipped: 0,
      success: true,
      cancelled: false,
    });
  });
});
