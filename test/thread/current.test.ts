/**
 * currentThread on the main thread and inside a createThread thread. The main thread's
 * settings are put back with taskset/chrt/renice after every test, not with the library.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ThreadPriority } from '../../lib/sched/priority.js';
import { createThread } from '../../lib/thread/create.js';
import { currentThread } from '../../lib/thread/current.js';
import { ThreadError } from '../../lib/thread/errors.js';
import type { ThreadHandle } from '../../lib/thread/handle.js';
import { joinThread } from '../../lib/thread/join.js';
import { asRoot } from '../optional.js';
import { ADDON, compiledLib, removeCompiledLib } from '../subprocess.js';
import {
  chrt,
  fixture,
  MAIN_TID,
  messageFrom,
  procNice,
  restore,
  settingsOf,
  type TaskSettings,
  tasksetCpus,
  thrown,
} from './helpers.js';

const { itRoot } = asRoot('currentThread.setPriority with realtime policies');

describe('currentThread on the main thread', () => {
  let saved: TaskSettings;
  beforeEach(() => {
    saved = settingsOf(MAIN_TID);
  });
  afterEach(() => {
    restore(MAIN_TID, saved);
  });

  it('tid is the main thread’s (the pid); cpu() is where it runs', () => {
    expect(currentThread.tid).toBe(process.pid);
    currentThread.setAffinity([1]);
    expect(currentThread.cpu()).toBe(1);
    currentThread.setAffinity([0]);
    expect(currentThread.cpu()).toBe(0);
  });

  it('setAffinity pins the calling thread, as taskset -p <pid> sees it; getAffinity agrees', () => {
    expect(currentThread.getAffinity()).toEqual([0, 1]);
    currentThread.setAffinity([1]);
    expect(tasksetCpus(MAIN_TID)).toEqual([1]);
    expect(currentThread.getAffinity()).toEqual([1]);
  });

  itRoot('setPriority changes nice and policy of the calling thread; getPriority agrees', () => {
    expect(currentThread.getPriority()).toEqual({ policy: 'other', priority: 0, nice: 0 });
    currentThread.setPriority('high');
    expect(procNice(MAIN_TID)).toBe(-10);
    expect(currentThread.getPriority()).toEqual({ policy: 'other', priority: 0, nice: -10 });
    currentThread.setPriority({ policy: 'batch', nice: 3 });
    expect(chrt(MAIN_TID)).toEqual({ policy: 'SCHED_BATCH', priority: 0 });
    expect(procNice(MAIN_TID)).toBe(3);
    expect(currentThread.getPriority()).toEqual({ policy: 'batch', priority: 0, nice: 3 });
  });

  it.each([
    ['cpu 999', () => currentThread.setAffinity([999]), 'InvalidAffinity', /999/],
    ['no cpus', () => currentThread.setAffinity([]), 'InvalidAffinity', /\[\]/],
    [
      'fifo priority 0',
      () => currentThread.setPriority({ policy: 'fifo', priority: 0 }),
      'InvalidArgument',
      /: 0 /,
    ],
    [
      'rr priority 100',
      () => currentThread.setPriority({ policy: 'rr', priority: 100 }),
      'InvalidArgument',
      /100/,
    ],
    [
      'nice 25',
      () => currentThread.setPriority({ policy: 'other', nice: 25 } as ThreadPriority),
      'InvalidArgument',
      /25/,
    ],
  ])('%s is rejected naming the value, the thread unchanged', (_w, call, kind, msg) => {
    const e = thrown(call);
    expect(e).toBeInstanceOf(ThreadError);
    expect(e).toMatchObject({ kind, code: 'EINVAL' });
    expect((e as Error).message).toMatch(/^currentThread\.set(Affinity|Priority): invalid /);
    expect((e as Error).message).toMatch(msg);
    expect(settingsOf(MAIN_TID)).toEqual(saved);
  });
});

describe('currentThread inside a thread', () => {
  afterAll(() => removeCompiledLib());

  itRoot(
    'acts on that thread alone: taskset -p and chrt -p on its tid, the main thread untouched',
    async () => {
      // Plain Node inside the worker needs the compiled library, loading this same addon.
      const index = await compiledLib();
      const current = new URL('thread/current.js', index).href;
      const before = settingsOf(MAIN_TID);
      const previous = process.env.CORE_PROCESS_ADDON;
      process.env.CORE_PROCESS_ADDON = ADDON;
      let t: ThreadHandle | undefined;
      try {
        t = await createThread(fixture('current.mjs'), { data: { current, cpu: 1 } });
        const set = await messageFrom<{
          type: string;
          tid: number;
          before: { tid: number; affinity: number[] };
          after: { cpu: number; affinity: number[]; priority: unknown };
        }>(t.worker, (m) => m.type === 'set');
        expect(set.before).toEqual({ tid: t.tid, affinity: [0, 1] });
        expect(set.after).toEqual({
          cpu: 1,
          affinity: [1],
          priority: { policy: 'rr', priority: 7, nice: 0 },
        });
        expect(tasksetCpus(t.tid)).toEqual([1]);
        expect(chrt(t.tid)).toEqual({ policy: 'SCHED_RR', priority: 7 });
        expect(settingsOf(MAIN_TID)).toEqual(before);
        t.worker.postMessage('release');
        const { value } = await joinThread(t, { timeout: 10_000 });
        expect(value).toEqual({
          bad: {
            name: 'ThreadError',
            kind: 'InvalidAffinity',
            field: 'cpus',
            message: expect.stringMatching(/^currentThread\.setAffinity: invalid cpus: \[999\]/),
          },
          affinityAfterBad: [1],
        });
      } finally {
        if (previous === undefined) delete process.env.CORE_PROCESS_ADDON;
        else process.env.CORE_PROCESS_ADDON = previous;
        if (t?.running) await t.worker.terminate();
        await t?.exited;
      }
    },
  );
});
