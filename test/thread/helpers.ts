// Observers for the thread tests: what the kernel says about one thread of this process,
// read with tools and files outside the library (taskset, chrt, /proc/<pid>/task/<tid>).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterEach } from 'vitest';
import { createThread, type ThreadHandle, type ThreadOptions } from '../../lib/index.js';

export const THREAD_FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A fixture module's file URL. */
export function fixture(name: string): URL {
  return new URL(`./fixtures/${name}`, import.meta.url);
}

/** Path of a fixture relative to test/fixtures, for test/subprocess.ts's runNode. */
export function fixtureFromShared(name: string): string {
  return path.join('..', 'thread', 'fixtures', name);
}

/** "0-2,5" -> [0, 1, 2, 5]: the list notation of taskset -c and Cpus_allowed_list. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** `taskset -pc <tid>`: the thread's affinity as the util-linux tool reports it. */
export function tasksetCpus(tid: number): number[] {
  const out = execFileSync('taskset', ['-pc', String(tid)], { encoding: 'utf8' });
  const m = /current affinity list: (.*)$/m.exec(out);
  if (!m?.[1]) throw new Error(`unexpected taskset output: ${out}`);
  return parseCpuList(m[1]);
}

/** Cpus_allowed_list of /proc/<our pid>/task/<tid>/status. */
export function procCpus(tid: number): number[] {
  const status = readFileSync(`/proc/${process.pid}/task/${tid}/status`, 'utf8');
  const m = /^Cpus_allowed_list:\s*(.*)$/m.exec(status);
  if (!m?.[1]) throw new Error(`no Cpus_allowed_list for tid ${tid}`);
  return parseCpuList(m[1]);
}

export interface Chrt {
  policy: string;
  priority: number;
}

/** `chrt -p <tid>`: e.g. { policy: 'SCHED_FIFO', priority: 50 }. */
export function chrt(tid: number): Chrt {
  const out = execFileSync('chrt', ['-p', String(tid)], { encoding: 'utf8' });
  const policy = /scheduling policy: (\S+)/.exec(out)?.[1];
  const priority = /scheduling priority: (\d+)/.exec(out)?.[1];
  if (policy === undefined || priority === undefined) {
    throw new Error(`unexpected chrt output: ${out}`);
  }
  return { policy, priority: Number(priority) };
}

/** Fields of /proc/<our pid>/task/<tid>/stat after the comm; index 0 is field 3 (state). */
function statFields(tid: number): string[] {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The nice value, field 19 of /proc/<pid>/task/<tid>/stat. */
export function procNice(tid: number): number {
  return Number(statFields(tid)[16]);
}

/** /proc/<pid>/task/<tid>/comm: the kernel's name of the thread. */
export function procComm(tid: number): string {
  return readFileSync(`/proc/${process.pid}/task/${tid}/comm`, 'utf8').replace(/\n$/, '');
}

/** True while the OS thread exists in this process. */
export function taskExists(tid: number): boolean {
  return existsSync(`/proc/${process.pid}/task/${tid}`);
}

/** Every setting the tests change, as the kernel has it now. */
export interface TaskSettings {
  cpus: number[];
  sched: Chrt;
  nice: number;
}

export function settingsOf(tid: number): TaskSettings {
  return { cpus: procCpus(tid), sched: chrt(tid), nice: procNice(tid) };
}

/** The main thread's tid: this process's pid. */
export const MAIN_TID = process.pid;

/**
 * Puts a thread back to `s` with the system tools, not with the code under test, so a
 * broken library cannot leave the test process pinned or realtime for the tests after it.
 */
export function restore(tid: number, s: TaskSettings): void {
  execFileSync('taskset', ['-pc', s.cpus.join(','), String(tid)], { stdio: 'ignore' });
  const flag = { SCHED_FIFO: '-f', SCHED_RR: '-r', SCHED_BATCH: '-b', SCHED_IDLE: '-i' }[
    s.sched.policy
  ];
  execFileSync('chrt', [flag ?? '-o', '-p', String(s.sched.priority), String(tid)], {
    stdio: 'ignore',
  });
  execFileSync('renice', ['-n', String(s.nice), '-p', String(tid)], { stdio: 'ignore' });
}

/** Resolves with the next message on `worker` for which `match` holds. */
export function messageFrom<T>(worker: Worker, match: (m: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      if (!match(m)) return;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number) => {
      worker.off('message', onMessage);
      reject(new Error(`worker exited (code ${code}) before the message came`));
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
}

/** Fields of /proc/thread-self as the report fixture reads them inside the thread. */
export interface InsideSnapshot {
  task: string;
  comm: string;
  cpus: string;
  nice: number;
  rtPriority: number;
  /** SCHED_OTHER 0, SCHED_FIFO 1, SCHED_RR 2, SCHED_BATCH 3, SCHED_IDLE 5. */
  policy: number;
}

/**
 * Registers an afterEach that terminates every thread the returned `start` created and waits
 * for its end, so no test leaves a thread behind whatever it asserted.
 */
export function threadStarter(): (
  module: string,
  options?: ThreadOptions,
) => Promise<ThreadHandle> {
  const live: ThreadHandle[] = [];
  afterEach(async () => {
    for (const t of live.splice(0)) {
      if (t.running) await t.worker.terminate();
      await t.exited;
    }
  });
  return async (module, options) => {
    const t = await createThread(fixture(module), options);
    live.push(t);
    return t;
  };
}

/** What `f` threw; fails the test when it throws nothing. */
export function thrown(f: () => void): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
