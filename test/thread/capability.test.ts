// processCapability: the spec's six operations as Result values. Each success and failure is
// checked against the kernel (exit codes, /proc, taskset), and each failure is the same kind
// the throwing API would raise.
import { describe, expect, it } from 'vitest';
import {
  ProcessError,
  type ProcessHandle,
  processCapability,
  ThreadError,
} from '../../lib/index.js';
import { eventually, procState, runningAsleep, trackChildren } from '../helpers.js';
import { fixture, messageFrom, taskExists, tasksetCpus } from './helpers.js';

const track = trackChildren();
const cap = processCapability;

function spawned(r: ReturnType<typeof cap.spawnProcess>): ProcessHandle {
  if (!r.ok) throw r.error;
  return track(r.value);
}

describe('processes', () => {
  it('spawnProcess + waitProcess: the environment is merged over the command’s env', async () => {
    const h = spawned(
      cap.spawnProcess(
        { program: 'sh', args: ['-c', 'exit $((A + B))'], env: { A: '3' } },
        { B: '4' },
      ),
    );
    const w = await cap.waitProcess(h);
    expect(w).toMatchObject({ ok: true, value: { code: 7, signal: null } });
  });

  it('spawnProcess failures are values with the ProcessError kind', () => {
    const missing = cap.spawnProcess({ program: 'no-such-program-here' });
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.error).toBeInstanceOf(ProcessError);
    expect(!missing.ok && missing.error.kind).toBe('NotFound');
    const bad = cap.spawnProcess({ program: 'true', affinity: [42] });
    expect(!bad.ok && bad.error).toMatchObject({ kind: 'InvalidCommand', field: 'affinity' });
  });

  it('waitProcess with a timeout is TimedOut and the child keeps running', async () => {
    const h = spawned(cap.spawnProcess({ program: 'sleep', args: ['30'] }));
    expect(await eventually(() => runningAsleep(h.pid))).toBe(true);
    const w = await cap.waitProcess(h, 20);
    expect(!w.ok && w.error.kind).toBe('TimedOut');
    expect(procState(h.pid)).toBe('S');
  });

  it('killProcess delivers the signal; after the reap it is NotFound', async () => {
    const h = spawned(cap.spawnProcess({ program: 'sleep', args: ['30'] }));
    expect(cap.killProcess(h, 'SIGUSR1')).toEqual({ ok: true, value: undefined });
    const w = await cap.waitProcess(h);
    expect(w.ok && w.value.signal).toBe('SIGUSR1');
    const again = cap.killProcess(h);
    expect(!again.ok && again.error).toMatchObject({ kind: 'NotFound', code: 'ESRCH' });
  });

  it('a programming error is thrown, not turned into a Result', () => {
    expect(() => cap.killProcess(null as unknown as ProcessHandle)).toThrow(TypeError);
  });
});

describe('threads', () => {
  it('createThread, setThreadAffinity and joinThread round-trip, as /proc and taskset see it', async () => {
    const created = await cap.createThread(fixture('hold.mjs'), {
      affinity: [1],
      data: { value: 42 },
    });
    if (!created.ok) throw created.error;
    const t = created.value;
    await messageFrom(t.worker, (m: { type?: string }) => m?.type === 'holding');
    expect(taskExists(t.tid)).toBe(true);
    expect(tasksetCpus(t.tid)).toEqual([1]);
    expect(cap.setThreadAffinity(t, [0])).toEqual({ ok: true, value: undefined });
    expect(tasksetCpus(t.tid)).toEqual([0]);

    const bad = cap.setThreadAffinity(t, [9]);
    expect(!bad.ok && bad.error).toBeInstanceOf(ThreadError);
    expect(!bad.ok && bad.error.kind).toBe('InvalidAffinity');
    expect(tasksetCpus(t.tid)).toEqual([0]);

    const early = await cap.joinThread(t, 20);
    expect(!early.ok && early.error.kind).toBe('TimedOut');
    t.worker.postMessage('release');
    const joined = await cap.joinThread(t);
    expect(joined).toMatchObject({ ok: true, value: { exitCode: 0, value: 42 } });
    expect(taskExists(t.tid)).toBe(false);
  });

  it('createThread failures are values with the ThreadError kind', async () => {
    const r = await cap.createThread(fixture('report.mjs'), { affinity: [] });
    expect(!r.ok && r.error).toMatchObject({ kind: 'InvalidAffinity', field: 'affinity' });
  });
});
