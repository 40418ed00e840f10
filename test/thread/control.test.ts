/**
 * setThreadAffinity / setThreadPriority on a running thread, from the main thread: checked
 * with taskset -p, chrt -p and /proc/<pid>/task/<tid>/stat; refusals change nothing; a thread
 * that has ended cannot be reached.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { ThreadPriority } from '../../lib/sched/priority.js';
import { setThreadAffinity, setThreadPriority } from '../../lib/thread/control.js';
import type { ThreadOptions } from '../../lib/thread/create.js';
import { ThreadError } from '../../lib/thread/errors.js';
import { ThreadHandle } from '../../lib/thread/handle.js';
import { joinThread } from '../../lib/thread/join.js';
import { asRoot } from '../optional.js';
import {
  chrt,
  MAIN_TID,
  messageFrom,
  procNice,
  settingsOf,
  taskExists,
  tasksetCpus,
  threadStarter,
  thrown,
} from './helpers.js';

const { itRoot } = asRoot('setThreadPriority with realtime policies');

const start = threadStarter();

async function holding(options: ThreadOptions = {}): Promise<ThreadHandle> {
  const t = await start('hold.mjs', options);
  await messageFrom(t.worker, (m: { type?: string }) => m.type === 'holding');
  return t;
}

describe('setThreadAffinity', () => {
  it('moves a running thread between CPUs, as taskset -p sees it when the call returns', async () => {
    const t = await holding({ affinity: [0] });
    expect(tasksetCpus(t.tid)).toEqual([0]);
    setThreadAffinity(t, [1]);
    expect(tasksetCpus(t.tid)).toEqual([1]);
    setThreadAffinity(t, [1, 0]);
    expect(tasksetCpus(t.tid)).toEqual([0, 1]);
    expect(tasksetCpus(MAIN_TID)).toEqual([0, 1]);
  });

  it.each([
    ['an offline CPU', [999], /999/],
    ['an empty set', [], /\[\]/],
    ['a negative id', [-1], /-1/],
  ])('%s is InvalidAffinity naming it, and the thread keeps its CPUs', async (_w, cpus, msg) => {
    const t = await holding({ affinity: [1] });
    const before = settingsOf(t.tid);
    const e = thrown(() => setThreadAffinity(t, cpus));
    expect(e).toBeInstanceOf(ThreadError);
    expect(e).toMatchObject({ kind: 'InvalidAffinity', field: 'cpus', code: 'EINVAL' });
    expect((e as Error).message).toMatch(/^setThreadAffinity: invalid cpus: /);
    expect((e as Error).message).toMatch(msg);
    expect(settingsOf(t.tid)).toEqual(before);
  });
});

describe('setThreadPriority', () => {
  itRoot(
    'changes a running thread’s policy and nice, as chrt -p and /proc stat see them',
    async () => {
      const t = await holding();
      expect(chrt(t.tid)).toEqual({ policy: 'SCHED_OTHER', priority: 0 });
      setThreadPriority(t, 'realtime');
      expect(chrt(t.tid)).toEqual({ policy: 'SCHED_FIFO', priority: 50 });
      setThreadPriority(t, { policy: 'rr', priority: 10 });
      expect(chrt(t.tid)).toEqual({ policy: 'SCHED_RR', priority: 10 });
      setThreadPriority(t, 'low');
      expect(chrt(t.tid)).toEqual({ policy: 'SCHED_OTHER', priority: 0 });
      expect(procNice(t.tid)).toBe(10);
      setThreadPriority(t, 'high');
      expect(procNice(t.tid)).toBe(-10);
      setThreadPriority(t, 'normal');
      expect(procNice(t.tid)).toBe(0);
      expect(settingsOf(MAIN_TID)).toMatchObject({ sched: { policy: 'SCHED_OTHER' }, nice: 0 });
    },
  );

  itRoot.each([
    ['fifo priority 0', { policy: 'fifo', priority: 0 }, 'priority.priority', /: 0 .*1\.\.99/],
    ['fifo priority 100', { policy: 'fifo', priority: 100 }, 'priority.priority', /100/],
    ['nice 25', { policy: 'other', nice: 25 }, 'priority.nice', /25/],
    ['an unknown policy', { policy: 'edf' }, 'priority.policy', /"edf"/],
  ])('%s is rejected naming it, and the thread keeps its priority', async (_w, p, field, msg) => {
    const t = await holding({ priority: { policy: 'rr', priority: 5 } });
    const before = settingsOf(t.tid);
    const e = thrown(() => setThreadPriority(t, p as ThreadPriority));
    expect(e).toBeInstanceOf(ThreadError);
    expect(e).toMatchObject({ kind: 'InvalidArgument', field, code: 'EINVAL' });
    expect((e as Error).message).toMatch(/^setThreadPriority: invalid /);
    expect((e as Error).message).toMatch(msg);
    expect(settingsOf(t.tid)).toEqual(before);
  });
});

describe('a thread that has ended', () => {
  it('cannot be reached: NotFound with code ESRCH, saying it has exited', async () => {
    const t = await holding({ name: 'gone' });
    t.worker.postMessage('release');
    await joinThread(t);
    for (const call of [() => setThreadAffinity(t, [0]), () => setThreadPriority(t, 'high')]) {
      const e = thrown(call);
      expect(e).toBeInstanceOf(ThreadError);
      expect(e).toMatchObject({ kind: 'NotFound', code: 'ESRCH' });
      expect((e as Error).message).toContain(`thread gone (tid ${t.tid}) has exited`);
    }
  });

  it('whose exit the event loop has not seen yet is refused (ESRCH), not reached', async () => {
    const t = await holding({ name: 'racing' });
    t.worker.postMessage('release');
    // Keep this thread's event loop from running (so 'exit' cannot be delivered and the
    // handle still says running) until the kernel shows the OS thread gone.
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const deadline = performance.now() + 5000;
    while (taskExists(t.tid) && performance.now() < deadline) Atomics.wait(nap, 0, 0, 2);
    expect(taskExists(t.tid)).toBe(false);
    expect(t.running).toBe(true);
    const e = thrown(() => setThreadAffinity(t, [1]));
    expect(e).toMatchObject({ kind: 'NotFound', code: 'ESRCH' });
    expect((e as Error).message).toContain('has exited');
    await joinThread(t);
  });
});

describe('a tid that is not a live thread of ours', () => {
  it('is never acted on, even when some other task has that id', async () => {
    // A handle whose tid is the main thread's: what a recycled tid would look like. The main
    // thread is alive but was never registered by a thread bootstrap, so the addon refuses.
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker('setInterval(() => {}, 1000)', { eval: true });
    try {
      const impostor = new ThreadHandle(worker, port1, MAIN_TID, 'impostor', false);
      const before = settingsOf(MAIN_TID);
      const e1 = thrown(() => setThreadAffinity(impostor, [1]));
      const e2 = thrown(() => setThreadPriority(impostor, 'low'));
      expect(settingsOf(MAIN_TID)).toEqual(before);
      for (const e of [e1, e2]) {
        expect(e).toMatchObject({ kind: 'NotFound', code: 'ESRCH' });
      }
    } finally {
      await worker.terminate();
      port2.close();
    }
  });
});

describe('bad handles', () => {
  it('are rejected naming the argument', () => {
    const fake = { tid: MAIN_TID } as unknown as ThreadHandle;
    expect(thrown(() => setThreadAffinity(fake, [0]))).toMatchObject({ field: 'handle' });
    expect(thrown(() => setThreadPriority(fake, 'low'))).toMatchObject({ field: 'handle' });
    expect(procNice(MAIN_TID)).toBe(0);
  });
});
