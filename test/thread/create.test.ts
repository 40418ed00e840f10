/**
 * createThread: the new OS thread is named, pinned and prioritised before any of its user
 * code runs, and the caller holds the handle first. Every setting is checked from outside
 * (taskset -p, chrt -p, /proc/<pid>/task/<tid>) and, where "before user code" is the claim,
 * from inside the thread at its module's top level (the fixture reads /proc/thread-self).
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createThread, type ThreadOptions } from '../../lib/thread/create.js';
import { ThreadError } from '../../lib/thread/errors.js';
import type { ThreadHandle } from '../../lib/thread/handle.js';
import { joinThread } from '../../lib/thread/join.js';
import { asRoot } from '../optional.js';
import { ADDON } from '../subprocess.js';
import {
  chrt,
  fixture,
  type InsideSnapshot,
  MAIN_TID,
  procComm,
  procCpus,
  procNice,
  restore,
  settingsOf,
  tasksetCpus,
  threadStarter,
} from './helpers.js';

const { itRoot } = asRoot("thread priorities 'high' and 'realtime'");

interface Report {
  ctx: { tid: number; name: string | undefined; data: unknown };
  atLoad: InsideSnapshot;
  atStart: InsideSnapshot;
  workerData: unknown;
}

const start = threadStarter();

async function reportOf(t: ThreadHandle): Promise<Report> {
  return (await joinThread(t, { timeout: 10_000 })).value as Report;
}

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
const SCHED_RR = 2;

describe('settings in force before user code runs', () => {
  it('pins the thread: taskset -p sees the set at once, the module top level already runs there', async () => {
    const t = await start('report.mjs', { affinity: [1] });
    expect(tasksetCpus(t.tid)).toEqual([1]);
    expect(tasksetCpus(MAIN_TID)).toEqual([0, 1]); // the creating thread is not pinned along
    const r = await reportOf(t);
    expect(r.atLoad.cpus).toBe('1');
    expect(r.atStart.cpus).toBe('1');

    const other = await start('report.mjs', { affinity: [0] });
    expect(tasksetCpus(other.tid)).toEqual([0]);
    expect((await reportOf(other)).atLoad.cpus).toBe('0');
  });

  itRoot(
    "'realtime' is SCHED_FIFO 50 with reset-on-fork for chrt -p, already at the module's top level",
    async () => {
      const t = await start('report.mjs', { priority: 'realtime' });
      // Reset-on-fork: what the realtime thread spawns or forks starts at SCHED_OTHER.
      expect(chrt(t.tid)).toEqual({ policy: 'SCHED_FIFO|SCHED_RESET_ON_FORK', priority: 50 });
      expect(chrt(MAIN_TID).policy).toBe('SCHED_OTHER');
      const r = await reportOf(t);
      expect(r.atLoad).toMatchObject({ policy: SCHED_FIFO, rtPriority: 50 });
    },
  );

  itRoot('{ policy: rr, priority: 10 } is SCHED_RR 10 (reset-on-fork) for chrt -p', async () => {
    const t = await start('report.mjs', { priority: { policy: 'rr', priority: 10 } });
    expect(chrt(t.tid)).toEqual({ policy: 'SCHED_RR|SCHED_RESET_ON_FORK', priority: 10 });
    expect((await reportOf(t)).atLoad).toMatchObject({ policy: SCHED_RR, rtPriority: 10 });
  });

  itRoot(
    "'low' is nice 10 and 'high' nice -10 in /proc/<pid>/task/<tid>/stat, under SCHED_OTHER",
    async () => {
      // Observed as soon as each resolves: the thread is parked until the caller's turn ends.
      const low = await start('report.mjs', { priority: 'low' });
      expect(procNice(low.tid)).toBe(10);
      const high = await start('report.mjs', { priority: 'high' });
      expect(procNice(high.tid)).toBe(-10);
      expect(chrt(high.tid)).toEqual({ policy: 'SCHED_OTHER', priority: 0 });
      expect(procNice(MAIN_TID)).toBe(0);
      expect((await reportOf(low)).atLoad).toMatchObject({ nice: 10, policy: SCHED_OTHER });
      expect((await reportOf(high)).atLoad).toMatchObject({ nice: -10, policy: SCHED_OTHER });
    },
  );

  it('{ policy, nice } sets both: batch at nice 5', async () => {
    const t = await start('report.mjs', { priority: { policy: 'batch', nice: 5 } });
    expect(chrt(t.tid)).toEqual({ policy: 'SCHED_BATCH', priority: 0 });
    expect(procNice(t.tid)).toBe(5);
  });

  it('names the thread in /proc/<pid>/task/<tid>/comm, cut to 15 bytes on a character boundary', async () => {
    const t = await start('report.mjs', { name: 'rx-sensor' });
    expect(procComm(t.tid)).toBe('rx-sensor');
    expect((await reportOf(t)).atLoad.comm).toBe('rx-sensor');

    const long = await start('report.mjs', { name: 'a-very-long-thread-name' });
    expect(procComm(long.tid)).toBe('a-very-long-thr');
    expect(long.name).toBe('a-very-long-thread-name');
    expect((await reportOf(long)).ctx.name).toBe('a-very-long-thread-name');

    // 'é' is two bytes: seven of them fill 14, an eighth would split at byte 15.
    const wide = await start('report.mjs', { name: 'éééééééé' });
    expect(procComm(wide.tid)).toBe('ééééééé');
  });

  it('the start function gets { tid, name, data }; tid is the one /proc/thread-self names', async () => {
    const data = { port: 9000, tags: ['a', 'b'], nested: { ok: true } };
    const t = await start('report.mjs', { name: 'ctx', data });
    const r = await reportOf(t);
    expect(r.ctx).toEqual({ tid: t.tid, name: 'ctx', data });
    expect(r.atLoad.task).toBe(`${process.pid}/task/${t.tid}`);
    expect(t.tid).not.toBe(MAIN_TID);
    // User code sees its own data as workerData too, not the library's plumbing.
    expect(r.workerData).toEqual(data);
  });

  it('resolves before any user code has run: a flag set at the module top level is still 0', async () => {
    const flag = new SharedArrayBuffer(4);
    const view = new Int32Array(flag);
    const t = await start('flag.mjs', { data: { flag } });
    // Nothing of the thread's module can have run yet, and the settings are already there.
    expect(Atomics.load(view, 0)).toBe(0);
    expect((await joinThread(t)).value).toBe('flagged');
    expect(Atomics.load(view, 0)).toBe(1);
  });

  it('stackSize: the thread gets at least that stack, and JS recursion goes that much deeper', async () => {
    const big = 64 << 20;
    const t = await start('stack.mjs', { stackSize: big, data: { addon: ADDON } });
    const plain = await start('stack.mjs', { data: { addon: ADDON } });
    const withBig = (await joinThread(t)).value as { stackSize: number; depth: number };
    const withDefault = (await joinThread(plain)).value as { stackSize: number; depth: number };
    expect(withBig.stackSize).toBeGreaterThanOrEqual(big);
    expect(withDefault.stackSize).toBeLessThan(big);
    expect(withBig.depth).toBeGreaterThan(4 * withDefault.depth);
  });

  itRoot('settings not asked for are the process baseline, not the creating thread’s', async () => {
    const saved = settingsOf(MAIN_TID);
    try {
      // The creating (main) thread is pinned, niced and round-robin: a kernel-default
      // pthread_create would hand all three to the new thread.
      restore(MAIN_TID, { cpus: [0], sched: { policy: 'SCHED_RR', priority: 5 }, nice: 5 });
      const t = await start('report.mjs');
      const inherited = { cpus: procCpus(t.tid), sched: chrt(t.tid), nice: procNice(t.tid) };
      const asked = await start('report.mjs', { priority: 'realtime' });
      const askedOutside = { cpus: procCpus(asked.tid), nice: procNice(asked.tid) };
      restore(MAIN_TID, saved);
      expect(inherited).toEqual({
        cpus: saved.cpus,
        sched: { policy: 'SCHED_OTHER', priority: 0 },
        nice: 0,
      });
      expect((await reportOf(t)).atLoad).toMatchObject({ nice: 0, policy: SCHED_OTHER });
      // What was asked for is applied; what was not (nice, affinity) is still the baseline.
      expect(askedOutside).toEqual({ cpus: saved.cpus, nice: 0 });
      expect((await reportOf(asked)).atLoad).toMatchObject({ policy: SCHED_FIFO, nice: 0 });
    } finally {
      restore(MAIN_TID, saved);
    }
  });
});

describe('bad input: a clear error naming the value, before any thread exists', () => {
  const cases: Array<[string, ThreadOptions, ThreadError['kind'], string, RegExp]> = [
    ['an offline CPU', { affinity: [999] }, 'InvalidAffinity', 'affinity', /999/],
    ['an empty CPU set', { affinity: [] }, 'InvalidAffinity', 'affinity', /\[\]/],
    ['a fractional CPU id', { affinity: [0.5] }, 'InvalidAffinity', 'affinity', /0\.5/],
    [
      'fifo priority 0',
      { priority: { policy: 'fifo', priority: 0 } },
      'InvalidArgument',
      'priority.priority',
      /invalid priority\.priority: 0 .*1\.\.99/,
    ],
    [
      'rr priority 100',
      { priority: { policy: 'rr', priority: 100 } },
      'InvalidArgument',
      'priority.priority',
      /100/,
    ],
    [
      'nice 25',
      { priority: { policy: 'other', nice: 25 } },
      'InvalidArgument',
      'priority.nice',
      /25 .*-20\.\.19/,
    ],
    [
      'an unknown named priority',
      { priority: 'turbo' as 'high' },
      'InvalidArgument',
      'priority',
      /"turbo"/,
    ],
    ['a tiny stack', { stackSize: 4096 }, 'InvalidArgument', 'stackSize', /4096/],
    ['an empty name', { name: '' }, 'InvalidArgument', 'name', /""/],
    ['a name with NUL', { name: 'a\0b' }, 'InvalidArgument', 'name', /NUL/],
    [
      'a non-boolean detached',
      { detached: 1 as unknown as boolean },
      'InvalidArgument',
      'detached',
      /1/,
    ],
    ['an empty export', { export: '' }, 'InvalidArgument', 'export', /""/],
    [
      'data that cannot be cloned',
      { data: { f: () => 1 } },
      'InvalidArgument',
      'data',
      /cannot be sent/,
    ],
  ];

  it.each(cases)('%s', async (_what, options, kind, field, message) => {
    const before = settingsOf(MAIN_TID);
    const tasks = new Set(readdirSync('/proc/self/task'));
    const e = await createThread(fixture('report.mjs'), options).then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ThreadError);
    expect(e).toMatchObject({ kind, field });
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).toMatch(/^createThread: /);
    // No thread was started and nothing about the caller changed.
    expect(readdirSync('/proc/self/task').filter((t) => !tasks.has(t))).toEqual([]);
    expect(settingsOf(MAIN_TID)).toEqual(before);
  });

  it('a module that does not exist is NotFound, one that is not a path or URL InvalidArgument', async () => {
    const missing = new URL('./fixtures/no-such-module.mjs', import.meta.url);
    await expect(createThread(missing)).rejects.toMatchObject({
      kind: 'NotFound',
      field: 'module',
      code: 'ENOENT',
      message: expect.stringContaining('no-such-module.mjs'),
    });
    await expect(createThread('report.mjs')).rejects.toMatchObject({
      kind: 'InvalidArgument',
      field: 'module',
      message: expect.stringContaining('"report.mjs"'),
    });
  });
});
