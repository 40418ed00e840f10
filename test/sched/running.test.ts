// Scheduling a running process by pid (and our own thread by id 0): every change is read
// back with taskset, chrt, /proc/<pid>/stat and prlimit, and every refusal leaves the
// task exactly as it was.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  cpuCount,
  getAffinity,
  getNice,
  getRlimit,
  getScheduler,
  onlineCpus,
  ProcessError,
  type ProcessHandle,
  setAffinity,
  setNice,
  setRlimit,
  setScheduler,
  spawn,
} from '../../lib/index.js';
import { eventually, runningAsleep, thrown, trackChildren } from '../helpers.js';
import { asRoot } from '../optional.js';
import { chrtOf, limitOf, niceOf, parseCpuList, tasksetList, threadCpus } from './observe.js';

const { itRoot } = asRoot('moving processes to SCHED_FIFO/RR');

const track = trackChildren();

async function sleeper(): Promise<ProcessHandle> {
  const h = spawn({ program: 'sleep', args: ['30'], stdin: 'null', stdout: 'null' });
  track(h);
  expect(await eventually(() => runningAsleep(h.pid))).toBe(true);
  return h;
}

describe('CPUs of this machine', () => {
  it('cpuCount matches nproc --all and onlineCpus matches /sys/devices/system/cpu/online', () => {
    expect(cpuCount()).toBe(Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' })));
    expect(onlineCpus()).toEqual(
      parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8')),
    );
  });
});

describe('by pid', () => {
  it('setAffinity pins a running process and getAffinity reads what taskset -p reads', async () => {
    const h = await sleeper();
    setAffinity(h.pid, [1]);
    expect(tasksetList(h.pid)).toEqual([1]);
    expect(getAffinity(h.pid)).toEqual([1]);
    setAffinity(h.pid, [0, 1]);
    expect(tasksetList(h.pid)).toEqual([0, 1]);
  });

  itRoot('setScheduler moves a process to FIFO 20 and back, as chrt -p reports', async () => {
    const h = await sleeper();
    setScheduler(h.pid, { policy: 'fifo', priority: 20 });
    expect(chrtOf(h.pid)).toEqual({ policy: 'SCHED_FIFO', priority: 20 });
    expect(getScheduler(h.pid)).toEqual({ policy: 'fifo', priority: 20, resetOnFork: false });
    setScheduler(h.pid, { policy: 'other' });
    expect(chrtOf(h.pid)).toEqual({ policy: 'SCHED_OTHER', priority: 0 });
  });

  it('setNice renices, as /proc/<pid>/stat shows', async () => {
    const h = await sleeper();
    setNice(h.pid, 12);
    expect(niceOf(h.pid)).toBe(12);
    expect(getNice(h.pid)).toBe(12);
  });

  it('setRlimit and getRlimit agree with /proc/<pid>/limits (prlimit --pid)', async () => {
    const h = await sleeper();
    setRlimit(h.pid, 'core', { soft: 0, hard: 4096 });
    expect(limitOf(h.pid, 'Max core file size')).toEqual({ soft: '0', hard: '4096' });
    expect(getRlimit(h.pid, 'core')).toEqual({ soft: 0, hard: 4096 });
    expect(getRlimit(h.pid, 'cpu')).toEqual({
      soft: Number.POSITIVE_INFINITY,
      hard: Number.POSITIVE_INFINITY,
    });
  });

  it('allThreads reaches every thread of a multi-threaded process, like taskset -a', async () => {
    const h = spawn({
      program: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1000)'],
      stdin: 'null',
      stdout: 'null',
    });
    track(h);
    // node starts its platform threads during startup; wait until the set stops changing.
    let last = '';
    let stableSince = Date.now();
    await eventually(() => {
      const now = [...threadCpus(h.pid).keys()].join(',');
      if (now !== last) {
        last = now;
        stableSince = Date.now();
      }
      return last.split(',').length >= 4 && Date.now() - stableSince > 300;
    });
    setAffinity(h.pid, [0], { allThreads: true });
    const seen = threadCpus(h.pid);
    expect(seen.size).toBeGreaterThanOrEqual(4);
    expect([...seen.values()]).toEqual([...seen.values()].map(() => '0'));
    // Without allThreads only the main thread moves.
    setAffinity(h.pid, [1]);
    const after = threadCpus(h.pid);
    expect(after.get(h.pid)).toBe('1');
    for (const tid of seen.keys()) {
      if (tid !== h.pid && after.has(tid)) expect(after.get(tid)).toBe('0');
    }
  });
});

describe('on the ProcessHandle', () => {
  itRoot('handle methods act on every thread of the child and read back', async () => {
    const h = await sleeper();
    h.setAffinity([1])
      .setScheduler({ policy: 'rr', priority: 7 })
      .setNice(5)
      .setRlimit('nofile', 64);
    expect(tasksetList(h.pid)).toEqual([1]);
    expect(chrtOf(h.pid)).toEqual({ policy: 'SCHED_RR', priority: 7 });
    expect(niceOf(h.pid)).toBe(5);
    expect(limitOf(h.pid, 'Max open files')).toEqual({ soft: '64', hard: '64' });
    expect(h.getAffinity()).toEqual([1]);
    expect(h.getScheduler().policy).toBe('rr');
    expect(h.getNice()).toBe(5);
    expect(h.getRlimit('nofile')).toEqual({ soft: 64, hard: 64 });
  });

  it('after the child is reaped they refuse with NotFound instead of touching a recycled pid', async () => {
    const h = await sleeper();
    h.kill('SIGKILL');
    await h.exited;
    const e = thrown(ProcessError, () => h.setAffinity([0]));
    expect(e.kind).toBe('NotFound');
    expect(e.message).toMatch(new RegExp(`setAffinity: process ${h.pid} \\(sleep\\) has exited`));
  });
});

describe('refusals change nothing', () => {
  it('an offline CPU is InvalidCommand before any syscall, and the affinity stays', async () => {
    const h = await sleeper();
    setAffinity(h.pid, [1]);
    const e = thrown(ProcessError, () => setAffinity(h.pid, [0, 7]));
    expect(e).toMatchObject({ kind: 'InvalidCommand', field: 'cpus' });
    expect(e.message).toMatch(/CPU 7, which is not online/);
    expect(tasksetList(h.pid)).toEqual([1]);
  });

  itRoot(
    'a priority outside the policy range is InvalidCommand, and the policy stays',
    async () => {
      const h = await sleeper();
      setScheduler(h.pid, { policy: 'rr', priority: 9 });
      const e = thrown(ProcessError, () => setScheduler(h.pid, { policy: 'fifo', priority: 120 }));
      expect(e).toMatchObject({ kind: 'InvalidCommand', field: 'scheduler.priority' });
      expect(chrtOf(h.pid)).toEqual({ policy: 'SCHED_RR', priority: 9 });
    },
  );

  it('nice 40 is InvalidCommand, and the nice value stays', async () => {
    const h = await sleeper();
    setNice(h.pid, 3);
    expect(thrown(ProcessError, () => setNice(h.pid, 40))).toMatchObject({
      kind: 'InvalidCommand',
      field: 'nice',
    });
    expect(niceOf(h.pid)).toBe(3);
  });

  it('a pid that does not exist is NotFound (ESRCH)', () => {
    // pid_max bounds real pids; one above it can never exist.
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
    const e = thrown(ProcessError, () => getAffinity(pidMax + 1));
    expect(e).toMatchObject({ kind: 'NotFound', code: 'ESRCH' });
    expect(thrown(ProcessError, () => setNice(pidMax + 1, 1))).toMatchObject({ kind: 'NotFound' });
  });

  it('ids are validated: negative or fractional ids are InvalidCommand', () => {
    expect(thrown(ProcessError, () => getAffinity(-1))).toMatchObject({
      kind: 'InvalidCommand',
      field: 'id',
    });
    expect(thrown(ProcessError, () => setNice(1.5, 1))).toMatchObject({
      kind: 'InvalidCommand',
      field: 'id',
    });
  });
});
