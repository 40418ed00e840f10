/**
 * Scheduling policy, realtime priority and nice of a running process or thread: the
 * programmatic `chrt -p` and `renice`.
 */

import { invalid } from '../errors.js';
import type { NativePolicy } from '../native.js';
import { native } from '../native.js';
import {
  checkDeadline,
  type DeadlineSpec,
  deadlineFailure,
  type ResolvedDeadline,
} from './deadline.js';
import { isSchedError, schedFailure } from './errors.js';
import { applyToTasks, checkId, describeTarget, type ThreadsOption } from './target.js';

/** 'other' (CFS default), 'batch', 'idle', and the realtime 'fifo' and 'rr'. */
export type SchedPolicy = NativePolicy;

/** A classic policy, or `{ policy: 'deadline', runtimeNs, deadlineNs?, periodNs }`. */
export type SchedulerSpec = ClassicSchedulerSpec | DeadlineSpec;

export interface ClassicSchedulerSpec {
  policy: SchedPolicy;
  /** sched_priority: 1..99 for 'fifo'/'rr' (default REALTIME_PRIORITY), 0 for the others. */
  priority?: number;
  /** SCHED_RESET_ON_FORK: children of this task start at SCHED_OTHER, nice >= 0. */
  resetOnFork?: boolean;
}

export interface SchedulerInfo {
  policy: SchedPolicy | 'deadline';
  priority: number;
  resetOnFork: boolean;
  /** Under 'deadline' (sched_getattr): the task's parameters in ns. */
  runtimeNs?: number;
  deadlineNs?: number;
  periodNs?: number;
}

/** A checked SchedulerSpec with every field filled. */
export type ResolvedScheduler = Required<ClassicSchedulerSpec> | ResolvedDeadline;

/** Priority `fifo`/`rr` get when none is given, and what ThreadPriority 'realtime' means. */
export const REALTIME_PRIORITY = 50;

const POLICIES: readonly SchedPolicy[] = ['other', 'batch', 'idle', 'fifo', 'rr'];

export function isRealtime(policy: string): boolean {
  return policy === 'fifo' || policy === 'rr';
}

/**
 * Validates a scheduler spec (policy known, priority within the policy's kernel range; for
 * 'deadline' the kernel's runtime <= deadline <= period rules), before any syscall.
 */
export function checkScheduler(field: string, spec: unknown): ResolvedScheduler {
  if (spec === null || typeof spec !== 'object') {
    throw invalid(
      field,
      spec,
      "must be { policy, priority? } with policy 'other', 'batch', 'idle', 'fifo' or 'rr'",
    );
  }
  const o = spec as Record<string, unknown>;
  if (o.policy === 'deadline') return checkDeadline(field, o);
  const policy = o.policy as SchedPolicy;
  if (!POLICIES.includes(policy)) {
    throw invalid(
      `${field}.policy`,
      o.policy,
      `is not a policy: use ${POLICIES.map((p) => `'${p}'`).join(', ')} or 'deadline'`,
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
  if (r.policy !== ('deadline' as string)) return r;
  const d = native.getDeadline(target);
  if (isSchedError(d)) throw schedFailure('getScheduler', describeTarget(target), d);
  return {
    policy: 'deadline',
    priority: 0,
    resetOnFork: d.resetOnFork,
    runtimeNs: d.runtimeNs,
    deadlineNs: d.deadlineNs,
    periodNs: d.periodNs,
  };
}

/**
 * Sets the policy and priority (`chrt -p`). Realtime needs CAP_SYS_NICE or RLIMIT_RTPRIO;
 * the error says which is missing. One syscall per task: a refusal changes nothing.
 * `{ policy: 'deadline', runtimeNs, deadlineNs?, periodNs }` is SCHED_DEADLINE through
 * sched_setattr (reset-on-fork unless resetOnFork: false); its refusals name the bandwidth
 * in use (EBUSY) or the exclusive cpuset it needs (EPERM).
 * @example
 * setScheduler(child.pid, { policy: 'rr', priority: 10 }); // chrt -r -p 10 <pid>
 * setScheduler(child.pid, { policy: 'deadline', runtimeNs: 200_000, periodNs: 1_000_000 });
 */
export function setScheduler(id: number, spec: SchedulerSpec, options: ThreadsOption = {}): void {
  const target = checkId('id', id);
  const s = checkScheduler('scheduler', spec);
  if (s.policy === 'deadline') {
    applyToTasks(
      target,
      options.allThreads,
      describeTarget(target),
      (tid) => native.setDeadline(tid, s.runtimeNs, s.deadlineNs, s.periodNs, s.resetOnFork, false),
      (label, e) =>
        deadlineFailure('setScheduler', label, e, s, { id: target, field: 'scheduler' }),
    );
    return;
  }
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
