/**
 * Which task a scheduling call acts on. Linux schedules threads: a pid names the main
 * thread of that process, a native tid one thread, 0 (or nothing) the calling thread.
 */
import { readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { invalid } from '../errors.js';
import type { NativeSchedError } from '../native.js';

const MAX_ID = 0x7fffffff;

export interface ThreadsOption {
  /**
   * Apply to every thread of the process `id` (as `taskset -a` does) instead of the one task
   * the id names. Threads that exit meanwhile are skipped.
   */
  allThreads?: boolean;
}

/** Validates a pid/tid argument; `undefined` means the calling thread (0). */
export function checkId(field: string, id: unknown): number {
  if (id === undefined) return 0;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > MAX_ID) {
    throw invalid(
      field,
      id,
      'must be a pid or native thread id (an integer >= 0; 0 = the calling thread)',
    );
  }
  return id;
}

/** How to name the target in messages. */
export function describeTarget(id: number): string {
  return id === 0 ? 'the calling thread' : `task ${id}`;
}

/**
 * Every thread of process `pid`, from /proc/<pid>/task (what `taskset -a` walks), main
 * thread first. A process that has exited yields an empty list.
 */
export function threadsOf(pid: number): number[] {
  try {
    const tids = readdirSync(`/proc/${pid}/task`).map(Number);
    return [pid, ...tids.filter((t) => t !== pid).sort((a, b) => a - b)];
  } catch {
    return [];
  }
}

const ESRCH = constants.errno.ESRCH;

/**
 * Runs one setter on the task `id`, or with `allThreads` on every thread of process `id`,
 * main thread first: a refusal there (permission is per process) changes nothing at all,
 * and threads that exit meanwhile are skipped.
 */
export function applyToTasks(
  id: number,
  allThreads: boolean | undefined,
  what: string,
  call: (tid: number) => 0 | NativeSchedError,
  fail: (label: string, e: NativeSchedError) => Error,
): void {
  if (allThreads !== true || id === 0) {
    const r = call(id);
    if (r !== 0) throw fail(what, r);
    return;
  }
  const tids = threadsOf(id);
  if (tids.length === 0) tids.push(id); // gone: let the syscall say ESRCH
  tids.forEach((tid, i) => {
    const r = call(tid);
    if (r === 0 || (i > 0 && r.errno === ESRCH)) return;
    throw fail(i === 0 ? what : `thread ${tid} of ${what}`, r);
  });
}
