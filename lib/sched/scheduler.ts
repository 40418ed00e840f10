/**
 * Scheduling policy, realtime priority and nice of a running process or thread: the
 * programmatic `chrt -p` and `renice`.
 */

import { invalid } from '../errors.js';
import type { NativePolicy } from '../native.js';
import { native } from '../native.js';
import { isSchedError, schedFailure } from './errors.js';
import { applyToTasks, checkId, describeTarget, type ThreadsOption } from './target.js';

/** 'other' (CFS default), 'batch', 'idle', and the realtime 'fifo' and 'rr'. */
export type SchedPolicy = NativePolicy;

export interface SchedulerSpec {
  policy: SchedPolicy;
  /** sched_priority: 1..99 for 'fifo'/'rr' (default REALTIME_PRIORITY), 0 for the others. */
  priority?: number;
  /** SCHED_RESET_ON_FORK: children of this task start at SCHED_OTHER, nice >= 0. */
  resetOnFork?: boolean;
}

export interface SchedulerInfo {
  /** 'deadline' shows up only for tasks someone else put under SCHED_DEADLINE. */
  policy: SchedPolicy | 'deadline';
  priority: number;
  resetOnFork: boolean;
}

/** Priority `fifo`/`rr` get when none is given, and what ThreadPriority 'realtime' means. */
export const REALTIME_PRIORITY = 50;

const POLICIES: readonly SchedPolicy[] = ['other', 'batch', 'idle', 'fifo', 'rr'];

export function isRealtime(policy: string): boolean {
  return policy === 'fifo' || policy === 'rr';
}

/** Validates a scheduler spec (policy known, priority within the policy's kernel range). */
export function checkScheduler(field: string, spec: unknown): Required<SchedulerSpec> {
  if (spec === null || typeof spec !== 'object') {
    throw invalid(
      field,
      spec,
      "must be { policy, priority? } with policy 'other', 'batch', 'idle', 'fifo' or 'rr'",
    );
  }
  const o = spec as Record<string, unknown>;
  const policy = o.policy as SchedPolicy;
  if (!POLICIES.includes(policy)) {
    throw invalid(
      `${field}.policy`,
      o.policy,
      `is not a policy: use ${POLICIES.map((p) => `'${p}'`).join(', ')}`,
    );
  }
  const [min, max] = native.priorityRange(policy);
  const priority =
    o.priority === undefined ? (isRealtime(policy) ? REALTIME_PRIORITY : 0) : o.priority;
  if (
    typeof priority !== 'number' ||
    !Number.isInteger(priority) ||
    priority < min ||
    priority > max
  ) {
    const range = min === max ? `must be ${min}` : `must be an integer in ${min}..${max}`;
    const hint = isRealtime(policy) ? '' : ' (use `nice` for the weight of non-realtime policies)';
    throw invalid(`${field}.priority`, priority, `${range} for policy '${policy}'${hint}`);
  }
  if (o.resetOnFork !== undefined && typeof o.resetOnFork !== 'boolean') {
    throw invalid(`${field}.resetOnFork`, o.resetOnFork, 'must be a boolean');
  }
  return { policy, priority, resetOnFork: o.resetOnFork === true };
}

/** Validates a nice value: an integer in -20..19. */
export function checkNice(field: string, nice: unknown): number {
  if (typeof nice !== 'number' || !Number.isInteger(nice) || nice < -20 || nice > 19) {
    throw invalid(field, nice, 'must be an integer in -20..19 (lower runs first)');
  }
  return nice;
}

/**
 * The scheduling policy and realtime priority of a process or thread. No id: the calling thread.
 * @example
 * getScheduler(child.pid); // { policy: 'fifo', priority: 10, resetOnFork: false }
 */
export function getScheduler(id?: number): SchedulerInfo {
  const target = checkId('id', id);
  const r = native.getScheduler(target);
  if (isSchedError(r)) throw schedFailure('getScheduler', describeTarget(target), r);
  return r;
}

/**
 * Sets the policy and priority (`chrt -p`). Realtime needs CAP_SYS_NICE or RLIMIT_RTPRIO;
 * the error says which is missing. One syscall per task: a refusal changes nothing.
 * @example
 * setScheduler(child.pid, { policy: 'rr', priority: 10 }); // chrt -r -p 10 <pid>
 */
export function setScheduler(id: number, spec: SchedulerSpec, options: ThreadsOption = {}): void {
  const target = checkId('id', id);
  const s = checkScheduler('scheduler', spec);
  applyToTasks(
    target,
    options.allThreads,
    describeTarget(target),
    (tid) => native.setScheduler(tid, s.policy, s.priority, s.resetOnFork, false),
    (label, e) =>
      schedFailure('setScheduler', label, e, {
        policy: s.policy,
        priority: s.priority,
        field: 'scheduler',
      }),
  );
}

/**
 * The nice value (-20..19) of a process or thread. No id: the calling thread.
 * @example
 * getNice(child.pid); // 5
 */
export function getNice(id?: number): number {
  const target = checkId('id', id);
  const r = native.getNice(target);
  if (isSchedError(r)) throw schedFailure('getNice', describeTarget(target), r);
  return r;
}

/**
 * Sets the nice value (`renice`). Lowering it needs CAP_SYS_NICE or RLIMIT_NICE.
 * @example
 * setNice(child.pid, 10, { allThreads: true }); // renice -n 10 -p <pid>, every thread
 */
export function setNice(id: number, nice: number, options: ThreadsOption = {}): void {
  const target = checkId('id', id);
  const n = checkNice('nice', nice);
  applyToTasks(
    target,
    options.allThreads,
    describeTarget(target),
    (tid) => native.setNice(tid, n, false),
    (label, e) => schedFailure('setNice', label, e, { nice: n, field: 'nice' }),
  );
}
