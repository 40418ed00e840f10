/**
 * currentThread: the calling thread, whichever it is (the main thread, a createThread thread,
 * any Worker). Everything acts on id 0, which the kernel reads as "the caller", so no tid
 * lookup and no registration is needed.
 */
import { native } from '../native.js';
import { applyAffinity, getAffinity } from '../sched/affinity.js';
import { checkCpus } from '../sched/cpus.js';
import { isSchedError, schedFailure } from '../sched/errors.js';
import {
  applyPriority,
  type ResolvedPriority,
  resolvePriority,
  type ThreadPriority,
} from '../sched/priority.js';
import { getNice, getScheduler, type SchedulerInfo } from '../sched/scheduler.js';
import { type ThreadError, toThreadError, withOp } from './errors.js';

/** A thread's scheduling as the kernel has it. */
export interface ThreadPriorityInfo {
  policy: SchedulerInfo['policy'];
  /** sched_priority: 1..99 under 'fifo'/'rr', 0 otherwise. */
  priority: number;
  /** -20..19; weighs only under 'other' and 'batch'. */
  nice: number;
}

export interface CurrentThread {
  /** The OS thread id of the calling thread (gettid()). */
  readonly tid: number;
  /** The CPU the calling thread is running on right now (sched_getcpu()). */
  cpu(): number;
  /** The CPUs the calling thread may run on. */
  getAffinity(): number[];
  /** Pins the calling thread; throws InvalidAffinity for a bad set, changing nothing. */
  setAffinity(cpus: readonly number[]): void;
  getPriority(): ThreadPriorityInfo;
  /** 'low' | 'normal' | 'high' | 'realtime' | { policy, priority?, nice? }. */
  setPriority(priority: ThreadPriority): void;
}

function calling(): string {
  return `the calling thread (tid ${native.gettid()})`;
}

function guarded<T>(op: string, fallback: ThreadError['kind'], f: () => T): T {
  try {
    return f();
  } catch (e) {
    const te = toThreadError(e, fallback);
    throw te === e ? te : withOp(op, te);
  }
}

/**
 * The calling thread: its tid, CPU, affinity and priority. Usable on the main thread and in
 * any worker; nothing here can reach another thread.
 * @example
 * currentThread.setAffinity([1]);
 * currentThread.setPriority('high');     // nice -10: needs CAP_SYS_NICE or RLIMIT_NICE >= 30
 * console.log(currentThread.tid, currentThread.cpu()); // e.g. 4242 1
 */
export const currentThread: CurrentThread = Object.freeze({
  get tid(): number {
    return native.gettid();
  },

  cpu(): number {
    const r = native.currentCpu();
    if (isSchedError(r)) {
      throw withOp(
        'currentThread.cpu',
        toThreadError(schedFailure('currentCpu', calling(), r), 'Unsupported'),
      );
    }
    return r;
  },

  getAffinity(): number[] {
    return guarded('currentThread.getAffinity', 'Unsupported', () => getAffinity(0));
  },

  setAffinity(cpus: readonly number[]): void {
    const set = guarded('currentThread.setAffinity', 'InvalidAffinity', () =>
      checkCpus('cpus', cpus),
    );
    guarded('currentThread.setAffinity', 'InvalidAffinity', () =>
      applyAffinity(0, set, false, calling()),
    );
  },

  getPriority(): ThreadPriorityInfo {
    return guarded('currentThread.getPriority', 'Unsupported', () => {
      const s = getScheduler(0);
      return { policy: s.policy, priority: s.priority, nice: getNice(0) };
    });
  },

  setPriority(priority: ThreadPriority): void {
    const resolved: ResolvedPriority = guarded('currentThread.setPriority', 'CreationFailed', () =>
      resolvePriority('priority', priority),
    );
    guarded('currentThread.setPriority', 'CreationFailed', () =>
      applyPriority(0, resolved, false, calling()),
    );
  },
});
