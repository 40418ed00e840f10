/**
 * CPU affinity of a running process or thread: the programmatic `taskset -p`.
 */
import { native } from '../native.js';
import { checkCpus } from './cpus.js';
import { isSchedError, schedFailure } from './errors.js';
import { applyToTasks, checkId, describeTarget, type ThreadsOption } from './target.js';

/**
 * The CPUs a process or thread may run on. No id: the calling thread.
 * @example
 * getAffinity(child.pid); // [0, 1]
 */
export function getAffinity(id?: number): number[] {
  const target = checkId('id', id);
  const r = native.getAffinity(target);
  if (isSchedError(r)) throw schedFailure('getAffinity', describeTarget(target), r);
  return r;
}

/**
 * Pins a process (its main thread, or every thread with `allThreads`) or a native thread to
 * `cpus`. Bad input (empty set, offline CPU) is an InvalidCommand error before any syscall.
 * @example
 * setAffinity(child.pid, [1], { allThreads: true }); // taskset -a -p -c 1 <pid>
 */
export function setAffinity(
  id: number,
  cpus: readonly number[],
  options: ThreadsOption = {},
): void {
  const target = checkId('id', id);
  const set = checkCpus('cpus', cpus);
  applyToTasks(
    target,
    options.allThreads,
    describeTarget(target),
    (tid) => native.setAffinity(tid, set, false),
    (label, e) => schedFailure('setAffinity', label, e, { cpus: set, field: 'cpus' }),
  );
}

/** Applies an already validated set; `ourThread` insists the id is a live thread of ours. */
export function applyAffinity(id: number, cpus: number[], ourThread: boolean, what: string): void {
  const r = native.setAffinity(id, cpus, ourThread);
  if (r !== 0) throw schedFailure('setAffinity', what, r, { cpus, field: 'cpus' });
}
