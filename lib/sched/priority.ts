/**
 * ThreadPriority: the named levels threads (and `currentThread`) use, mapped onto a policy
 * plus nice, and applied so that a refusal leaves the task as it was.
 */

import { invalid } from '../errors.js';
import type { NativePolicy } from '../native.js';
import { native } from '../native.js';
import { applyDeadline, type DeadlineSpec, type ResolvedDeadline } from './deadline.js';
import { isSchedError, schedFailure } from './errors.js';
import { checkNice, checkScheduler, REALTIME_PRIORITY, type SchedPolicy } from './scheduler.js';

/**
 * - 'low': SCHED_OTHER, nice 10; 'normal': SCHED_OTHER, nice 0; 'high': SCHED_OTHER, nice -10
 *   (needs CAP_SYS_NICE or RLIMIT_NICE >= 30);
 * - 'realtime': SCHED_FIFO at REALTIME_PRIORITY (50), needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 50;
 * - `{ policy, priority?, nice? }` for anything else.
 */
export type ThreadPriority =
  | 'low'
  | 'normal'
  | 'high'
  | 'realtime'
  | { policy: SchedPolicy; priority?: number; nice?: number }
  | DeadlineSpec;

/** A validated priority: the policy, its sched_priority, and a nice to set (if any). */
export interface ResolvedPriority {
  policy: NativePolicy | 'deadline';
  priority: number;
  nice?: number;
  /** policy 'deadline': its parameters. */
  deadline?: ResolvedDeadline;
}

const NAMED: Record<string, ResolvedPriority> = {
  low: { policy: 'other', priority: 0, nice: 10 },
  normal: { policy: 'other', priority: 0, nice: 0 },
  high: { policy: 'other', priority: 0, nice: -10 },
  realtime: { policy: 'fifo', priority: REALTIME_PRIORITY },
};

/** Validates a ThreadPriority before any syscall; throws InvalidCommand naming the value. */
export function resolvePriority(field: string, p: unknown): ResolvedPriority {
  if (typeof p === 'string') {
    const named = NAMED[p];
    if (named === undefined) {
      throw invalid(
        field,
        p,
        "is not a priority: use 'low', 'normal', 'high', 'realtime' or { policy, priority?, nice? }",
      );
    }
    return { ...named };
  }
  const s = checkScheduler(field, p);
  if (s.policy === 'deadline') return { policy: 'deadline', priority: 0, deadline: s };
  const nice = (p as { nice?: unknown }).nice;
  const out: ResolvedPriority = { policy: s.policy, priority: s.priority };
  if (nice !== undefined) out.nice = checkNice(`${field}.nice`, nice);
  return out;
}

/**
 * Applies a resolved priority to task `id`: nice first, then the policy; if the policy is
 * refused the old nice is put back, so a rejected call leaves nothing changed.
 * @example
 * applyPriority(tid, resolvePriority('priority', 'high'), true, `thread ${tid}`);
 */
export function applyPriority(
  id: number,
  p: ResolvedPriority,
  ourThread: boolean,
  what: string,
): void {
  if (p.policy === 'deadline') {
    if (p.deadline === undefined) throw new TypeError('applyPriority: deadline without parameters');
    applyDeadline(id, p.deadline, ourThread, what, 'priority');
    return;
  }
  let previousNice: number | undefined;
  if (p.nice !== undefined) {
    const before = native.getNice(id);
    if (isSchedError(before)) throw schedFailure('getNice', what, before);
    previousNice = before;
    const r = native.setNice(id, p.nice, ourThread);
    if (r !== 0) throw schedFailure('setNice', what, r, { nice: p.nice, field: 'priority' });
  }
  const r = native.setScheduler(id, p.policy, p.priority, false, ourThread);
  if (r !== 0) {
    // Best effort: putting back a higher nice never needs a privilege, a lower one does.
    if (previousNice !== undefined && previousNice !== p.nice)
      native.setNice(id, previousNice, ourThread);
    throw schedFailure('setScheduler', what, r, {
      policy: p.policy,
      priority: p.priority,
      field: 'priority',
    });
  }
}
