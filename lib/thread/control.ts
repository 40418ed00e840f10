/**
 * Changing a running thread's affinity and priority from any thread, by its OS tid.
 *
 * Every call passes ourThread = true: the addon then acts only if the tid is a live thread
 * registered by this process's bootstrap, so a tid the kernel has recycled for some other
 * task after our thread ended can never be reached (it answers ESRCH instead).
 */
import { constants } from 'node:os';
import { describe, ProcessError } from '../errors.js';
import { applyAffinity } from '../sched/affinity.js';
import { checkCpus } from '../sched/cpus.js';
import { applyPriority, resolvePriority, type ThreadPriority } from '../sched/priority.js';
import { invalidThreadInput, ThreadError, toThreadError, withOp } from './errors.js';
import { ThreadHandle } from './handle.js';

/**
 * Moves a running thread to `cpus` (online CPU ids). Synchronous: in force when it returns.
 * Bad input throws InvalidAffinity naming the value and changes nothing; a thread that has
 * ended throws 'NotFound' with code 'ESRCH'.
 * @example
 * const t = await createThread(new URL('./rx.js', import.meta.url), { name: 'rx' });
 * setThreadAffinity(t, [1]); // taskset -p <t.tid> now says 1
 */
export function setThreadAffinity(handle: ThreadHandle, cpus: readonly number[]): void {
  checkHandle('setThreadAffinity', handle);
  let set: number[];
  try {
    set = checkCpus('cpus', cpus);
  } catch (e) {
    throw withOp('setThreadAffinity', toThreadError(e, 'InvalidAffinity'));
  }
  act('setThreadAffinity', handle, () => applyAffinity(handle.tid, set, true, handle.label));
}

/**
 * Changes a running thread's priority: 'low' | 'normal' | 'high' | 'realtime' |
 * { policy, priority?, nice? }. A refused change (PermissionDenied, saying which capability
 * or limit is missing) leaves the thread as it was.
 * @example
 * setThreadPriority(t, 'realtime');                     // chrt -p <t.tid>: SCHED_FIFO 50
 * setThreadPriority(t, { policy: 'rr', priority: 10 }); // SCHED_RR 10
 */
export function setThreadPriority(handle: ThreadHandle, priority: ThreadPriority): void {
  checkHandle('setThreadPriority', handle);
  let resolved: ReturnType<typeof resolvePriority>;
  try {
    resolved = resolvePriority('priority', priority);
  } catch (e) {
    throw withOp('setThreadPriority', toThreadError(e, 'CreationFailed'));
  }
  act('setThreadPriority', handle, () => applyPriority(handle.tid, resolved, true, handle.label));
}

function checkHandle(op: string, handle: unknown): asserts handle is ThreadHandle {
  if (!(handle instanceof ThreadHandle)) {
    throw invalidThreadInput(op, 'handle', describe(handle), 'is not a ThreadHandle');
  }
}

function act(op: string, handle: ThreadHandle, apply: () => void): void {
  if (!handle.running) throw gone(op, handle);
  try {
    apply();
  } catch (e) {
    // ESRCH here means the thread ended between our check and the syscall.
    if (e instanceof ProcessError && e.kind === 'NotFound') throw gone(op, handle);
    throw toThreadError(e, 'CreationFailed');
  }
}

function gone(op: string, handle: ThreadHandle): ThreadError {
  return new ThreadError('NotFound', `${op}: ${handle.label} has exited`, {
    code: 'ESRCH',
    errno: constants.errno.ESRCH,
  });
}
