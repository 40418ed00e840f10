/**
 * Turning a refused scheduling call into a ProcessError that says what was missing: the
 * capability, the limit and its current value, or that the task has gone.
 */

import { describe, errnoName, ProcessError, type ProcessErrorKind } from '../errors.js';
import {
  type NativeSchedError,
  type NativeSpawnError,
  type NativeSpawnRequest,
  native,
} from '../native.js';
import { deadlineFailure, type ResolvedDeadline } from './deadline.js';

export interface SchedDetail {
  policy?: string;
  priority?: number;
  nice?: number;
  cpus?: readonly number[];
  /** The option or argument the failing value came from, for `ProcessError.field`. */
  field?: string;
}

/** True for the `{ errno, syscall }` objects the scheduling bindings return on failure. */
export function isSchedError(v: unknown): v is NativeSchedError {
  return typeof v === 'object' && v !== null && typeof (v as NativeSchedError).errno === 'number';
}

function softLimit(resource: 'rtprio' | 'nice'): string {
  const r = native.getRlimit(0, resource);
  if (isSchedError(r)) return 'unknown';
  return r[0] < 0 ? 'unlimited' : String(r[0]);
}

function permissionHint(op: string, detail: SchedDetail): string {
  if (op === 'setScheduler' && (detail.policy === 'fifo' || detail.policy === 'rr')) {
    const p = detail.priority ?? 0;
    return (
      `SCHED_${detail.policy.toUpperCase()} priority ${p} needs CAP_SYS_NICE or ` +
      `RLIMIT_RTPRIO >= ${p} (this process: RLIMIT_RTPRIO ${softLimit('rtprio')})`
    );
  }
  if (op === 'setNice' && detail.nice !== undefined) {
    return (
      `lowering nice to ${detail.nice} needs CAP_SYS_NICE or RLIMIT_NICE >= ${20 - detail.nice} ` +
      `(this process: RLIMIT_NICE ${softLimit('nice')}); raising it never does`
    );
  }
  if (op === 'setRlimit') return 'raising a hard limit needs CAP_SYS_RESOURCE';
  return 'changing another user’s task, or leaving SCHED_IDLE, needs CAP_SYS_NICE';
}

/**
 * @example
 * const r = native.setNice(tid, -10, true);
 * if (r !== 0) throw schedFailure('setNice', `thread ${tid}`, r, { nice: -10 });
 */
export function schedFailure(
  op: string,
  what: string,
  e: NativeSchedError,
  detail: SchedDetail = {},
): ProcessError {
  const code = errnoName(e.errno);
  let kind: ProcessErrorKind;
  let why: string;
  switch (code) {
    case 'EPERM':
    case 'EACCES':
      kind = 'PermissionDenied';
      why = permissionHint(op, detail);
      break;
    case 'ESRCH':
      kind = 'NotFound';
      why = e.syscall === 'registry' ? 'the thread has exited' : 'no such process or thread';
      break;
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
    case 'ENOSYS':
      kind = 'Unsupported';
      why =
        op.endsWith('Affinity') || op === 'currentCpu'
          ? 'this platform has no hard CPU pinning (macOS: affinity is only a hint)'
          : 'not supported on this platform';
      break;
    case 'EINVAL':
      kind = 'InvalidCommand';
      why =
        op === 'setAffinity'
          ? `CPUs ${describe(detail.cpus ?? [])} are outside the CPUs this task may use (cgroup cpuset?)`
          : 'the kernel rejected the value';
      break;
    default:
      kind = 'InvalidCommand';
      why = 'the kernel refused';
  }
  return new ProcessError(kind, `${op} ${what}: ${why} (${code})`, {
    code,
    errno: e.errno,
    syscall: e.syscall,
    field: detail.field,
  });
}

const CHILD_STAGES = new Set([
  'affinity',
  'scheduler',
  'nice',
  'rlimit',
  'setgid',
  'setgroups',
  'setuid',
]);

/** True when a failed spawn stopped at a scheduling, limit or id step in the child. */
export function isChildSetupStage(stage: string): boolean {
  return CHILD_STAGES.has(stage);
}

/**
 * A spawn that failed while the child applied scheduling, limits or ids: says which setting,
 * what it needed, and, when it was a reset of the spawning thread's own settings rather than
 * something asked for, how to opt out of the reset.
 * @example
 * throw spawnSetupFailure('sleep', { errno: 1, syscall: 'sched_setscheduler', stage: 'scheduler' }, request);
 */
export function spawnSetupFailure(
  program: string,
  e: NativeSpawnError,
  request: NativeSpawnRequest,
): ProcessError {
  const s = request.scheduler;
  if (e.stage === 'scheduler' && s?.policy === 'deadline') {
    const d = { ...s, policy: 'deadline', priority: 0 } as ResolvedDeadline;
    const cpus = request.affinity ?? native.baseline().affinity;
    const err = deadlineFailure(`spawn ${program}:`, 'SCHED_DEADLINE in the child', e, d, {
      cpus,
      field: 'scheduler',
    });
    return new ProcessError(err.kind, err.message, {
      code: err.code,
      errno: e.errno,
      syscall: e.syscall,
      stage: e.stage,
      field: 'scheduler',
    });
  }
  const code = errnoName(e.errno);
  const denied = code === 'EPERM' || code === 'EACCES';
  const base = native.baseline();
  let what: string;
  let why: string;
  let field: string = e.stage;
  switch (e.stage) {
    case 'affinity': {
      const cpus = request.affinity ?? base.affinity;
      what = request.affinity
        ? `cannot pin the child to CPUs ${describe(cpus)}`
        : `cannot reset the child's affinity to the process's CPUs ${describe(cpus)}`;
      why =
        code === 'EINVAL'
          ? 'they are outside the CPUs this process may use (cgroup cpuset?)'
          : code;
      break;
    }
    case 'scheduler': {
      const s = request.scheduler ?? { policy: base.policy, priority: base.priority };
      what = request.scheduler
        ? `cannot set policy '${s.policy}' priority ${s.priority} in the child`
        : `cannot reset the child's policy to the process's '${s.policy}' priority ${s.priority}`;
      why = denied
        ? permissionHint('setScheduler', { policy: s.policy, priority: s.priority })
        : code;
      break;
    }
    case 'nice': {
      const n = request.nice ?? base.nice;
      what =
        request.nice !== undefined
          ? `cannot set nice ${n} in the child`
          : `cannot reset the child's nice to the process's ${n}`;
      why = denied ? permissionHint('setNice', { nice: n }) : code;
      break;
    }
    case 'rlimit': {
      const entry = request.rlimits?.find(([name]) => name === e.resource);
      const shown = entry
        ? ` to soft ${entry[1] < 0 ? 'unlimited' : entry[1]}, hard ${entry[2] < 0 ? 'unlimited' : entry[2]}`
        : '';
      what = `cannot set rlimit ${e.resource ?? '?'}${shown} in the child`;
      why = denied
        ? 'raising a hard limit needs CAP_SYS_RESOURCE'
        : code === 'EINVAL'
          ? 'soft above hard, or above the kernel maximum'
          : code;
      field = `rlimits.${e.resource ?? ''}`;
      break;
    }
    default: {
      const isUid = e.stage === 'setuid';
      what = isUid
        ? `cannot switch the child to uid ${request.uid}`
        : `cannot switch the child to gid ${request.gid}`;
      why = denied ? `needs ${isUid ? 'CAP_SETUID' : 'CAP_SETGID'}` : code;
      field = isUid ? 'uid' : 'gid';
    }
  }
  const wasReset =
    (e.stage === 'affinity' && request.affinity === undefined) ||
    (e.stage === 'scheduler' && request.scheduler === undefined) ||
    (e.stage === 'nice' && request.nice === undefined);
  const resetHint =
    denied && wasReset
      ? '; the spawning thread runs with other settings than the process started with: pass inheritScheduling: true to keep them'
      : '';
  return new ProcessError(
    denied ? 'PermissionDenied' : 'SpawnFailed',
    `spawn ${program}: ${what}: ${why} (${code})${resetHint}`,
    {
      code,
      errno: e.errno,
      syscall: e.syscall,
      stage: e.stage,
      field,
    },
  );
}
