/**
 * SCHED_DEADLINE (earliest deadline first, with constant-bandwidth admission): validation that
 * states the kernel's rules before any syscall, and errors that explain its refusals.
 * Applied with sched_setattr (native/realtime.h); `chrt -p` shows it as
 * SCHED_DEADLINE runtime/deadline/period.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, errnoName, invalid, ProcessError } from '../errors.js';
import { type NativeSchedError, native } from '../native.js';

export interface DeadlineSpec {
  policy: 'deadline';
  /** CPU time the task may use in each period, in ns (>= 1024). */
  runtimeNs: number;
  /** By when, after each period starts, that runtime must have been given; default periodNs. */
  deadlineNs?: number;
  /** The period, in ns; runtimeNs <= deadlineNs <= periodNs. */
  periodNs: number;
  /**
   * SCHED_FLAG_RESET_ON_FORK, default true: children start at SCHED_OTHER. Without it a
   * deadline task cannot fork at all (the kernel answers EAGAIN).
   */
  resetOnFork?: boolean;
}

/** A checked DeadlineSpec, every field filled. */
export interface ResolvedDeadline {
  policy: 'deadline';
  priority: 0;
  resetOnFork: boolean;
  runtimeNs: number;
  deadlineNs: number;
  periodNs: number;
}

/** The kernel's smallest runtime (1 << DL_SCALE ns). */
const MIN_NS = 1024;

function readNumber(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

function nsField(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < MIN_NS) {
    throw invalid(field, v, `must be an integer number of ns >= ${MIN_NS} (the kernel's minimum)`);
  }
  return v;
}

/**
 * Validates `{ policy: 'deadline', runtimeNs, deadlineNs?, periodNs, resetOnFork? }` against
 * the kernel's rules (runtime <= deadline <= period, each >= 1024 ns, period within
 * /proc/sys/kernel/sched_deadline_period_{min,max}_us), naming the values, before any syscall.
 * @example
 * checkDeadline('scheduler', { policy: 'deadline', runtimeNs: 200_000, periodNs: 1_000_000 });
 */
export function checkDeadline(field: string, o: Record<string, unknown>): ResolvedDeadline {
  for (const k of Object.keys(o)) {
    if (!['policy', 'runtimeNs', 'deadlineNs', 'periodNs', 'resetOnFork'].includes(k)) {
      throw invalid(
        `${field}.${k}`,
        o[k],
        'is not a deadline option: use runtimeNs, deadlineNs, periodNs, resetOnFork',
      );
    }
  }
  const runtimeNs = nsField(`${field}.runtimeNs`, o.runtimeNs);
  const periodNs = nsField(`${field}.periodNs`, o.periodNs);
  const deadlineNs =
    o.deadlineNs === undefined ? periodNs : nsField(`${field}.deadlineNs`, o.deadlineNs);
  if (runtimeNs > deadlineNs || deadlineNs > periodNs) {
    throw invalid(
      field,
      { runtimeNs, deadlineNs, periodNs },
      `must satisfy runtimeNs <= deadlineNs <= periodNs (here ${runtimeNs} / ${deadlineNs} / ${periodNs})`,
    );
  }
  const minUs = readNumber('/proc/sys/kernel/sched_deadline_period_min_us');
  const maxUs = readNumber('/proc/sys/kernel/sched_deadline_period_max_us');
  if (minUs !== null && periodNs < minUs * 1000) {
    throw invalid(
      `${field}.periodNs`,
      periodNs,
      `is below the kernel's minimum period ${minUs * 1000} ns (/proc/sys/kernel/sched_deadline_period_min_us)`,
    );
  }
  if (maxUs !== null && periodNs > maxUs * 1000) {
    throw invalid(
      `${field}.periodNs`,
      periodNs,
      `is above the kernel's maximum period ${maxUs * 1000} ns (/proc/sys/kernel/sched_deadline_period_max_us)`,
    );
  }
  if (o.resetOnFork !== undefined && typeof o.resetOnFork !== 'boolean') {
    throw invalid(`${field}.resetOnFork`, o.resetOnFork, 'must be a boolean');
  }
  return {
    policy: 'deadline',
    priority: 0,
    resetOnFork: o.resetOnFork !== false,
    runtimeNs,
    deadlineNs,
    periodNs,
  };
}

/** Deadline tasks on the machine now (from /proc/<pid>/task/<tid>/stat, policy field 6). */
export function deadlineTasks(): Array<{ tid: number; runtimeNs: number; periodNs: number }> {
  const out: Array<{ tid: number; runtimeNs: number; periodNs: number }> = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (fields[38] !== '6') continue; // field 41, policy
        const d = native.getDeadline(Number(tid));
        if ('errno' in d || !d.deadline) continue;
        out.push({ tid: Number(tid), runtimeNs: d.runtimeNs, periodNs: d.periodNs });
      } catch {
        // gone meanwhile
      }
    }
  }
  return out;
}

/** What admission control has to give, and what deadline tasks hold now. */
export function deadlineBandwidth(): {
  cpus: number[];
  perCpu: number | null;
  capacity: number | null;
  inUse: number;
  tasks: number[];
} {
  const cpus = native.onlineCpus();
  const rt = readNumber('/proc/sys/kernel/sched_rt_runtime_us');
  const period = readNumber('/proc/sys/kernel/sched_rt_period_us');
  const perCpu = rt === null || period === null || period <= 0 ? null : rt < 0 ? 1 : rt / period;
  const tasks = deadlineTasks();
  const inUse = tasks.reduce((sum, t) => sum + t.runtimeNs / t.periodNs, 0);
  return {
    cpus,
    perCpu,
    capacity: perCpu === null ? null : perCpu * cpus.length,
    inUse,
    tasks: tasks.map((t) => t.tid),
  };
}

function allowedCpus(id: number): number[] | null {
  const r = native.getAffinity(id);
  return Array.isArray(r) ? r : null;
}

/**
 * A refused SCHED_DEADLINE, explained: admission control (EBUSY) with the bandwidth in use,
 * a CPU set narrower than the root domain or a missing CAP_SYS_NICE (EPERM), or the rules.
 * `cpus` are the CPUs the task may use (a spawn's requested affinity), when known.
 * @example
 * throw deadlineFailure('setScheduler', 'task 123', { errno: 16, syscall: 'sched_setattr' }, d);
 */
export function deadlineFailure(
  op: string,
  what: string,
  e: NativeSchedError,
  d: ResolvedDeadline,
  options: { cpus?: readonly number[]; id?: number; field?: string } = {},
): ProcessError {
  const code = errnoName(e.errno);
  const ask = `runtime/deadline/period ${d.runtimeNs}/${d.deadlineNs}/${d.periodNs} ns`;
  const share = (d.runtimeNs / d.periodNs).toFixed(3);
  let kind: ProcessError['kind'] = 'InvalidCommand';
  let why: string;
  if (code === 'EBUSY') {
    const bw = deadlineBandwidth();
    const cap =
      bw.capacity === null
        ? 'an unknown total'
        : `${bw.cpus.length} CPUs x ${bw.perCpu?.toFixed(2)} (sched_rt_runtime_us / sched_rt_period_us) = ${bw.capacity.toFixed(2)} CPUs`;
    why =
      `admission control is full: this task asks ${share} CPU (${ask}); the root domain ` +
      `(CPUs ${describe(bw.cpus)}, unless an exclusive cpuset splits them) admits ${cap}, and ` +
      `${bw.inUse.toFixed(3)} CPU is held by ${bw.tasks.length} deadline task(s)` +
      (bw.tasks.length > 0 ? ` (tids ${bw.tasks.slice(0, 10).join(', ')})` : '') +
      '; ask for less runtime, or end some of them';
  } else if (code === 'EPERM' || code === 'EACCES') {
    kind = 'PermissionDenied';
    const online = native.onlineCpus();
    const cpus = options.cpus ?? (options.id !== undefined ? allowedCpus(options.id) : null);
    const narrow = cpus !== null && online.some((c) => !cpus.includes(c));
    why = narrow
      ? `SCHED_DEADLINE needs the task's CPUs to span its whole root domain (CPUs ${describe(online)}), ` +
        `but it may run only on ${describe(cpus)}: instead of affinity, give it an exclusive cpuset ` +
        '(cgroup v1 cpuset.cpu_exclusive=1 with cpuset.sched_load_balance=0 in the parent; v2 ' +
        'cpuset.cpus.partition=root), which makes a root domain of its own'
      : 'SCHED_DEADLINE needs CAP_SYS_NICE (RLIMIT_RTPRIO does not grant it), and CPUs that span ' +
        'the whole root domain';
  } else if (code === 'EINVAL') {
    why = `the kernel rejected ${ask} (runtime <= deadline <= period, each >= 1024 ns, period within sched_deadline_period_{min,max}_us)`;
  } else if (code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
    kind = 'Unsupported';
    why = 'SCHED_DEADLINE is Linux-only (sched_setattr, Linux 3.14)';
  } else if (code === 'ESRCH') {
    kind = 'NotFound';
    why = e.syscall === 'registry' ? 'the thread has exited' : 'no such process or thread';
  } else {
    why = 'the kernel refused';
  }
  return new ProcessError(kind, `${op} ${what}: ${why} (${code})`, {
    code,
    errno: e.errno,
    syscall: e.syscall,
    field: options.field,
  });
}

/**
 * Puts task `id` under SCHED_DEADLINE (0: the calling thread).
 * @example
 * applyDeadline(tid, checkDeadline('scheduler', spec), true, `thread ${tid}`);
 */
export function applyDeadline(
  id: number,
  d: ResolvedDeadline,
  ourThread: boolean,
  what: string,
  field = 'scheduler',
): void {
  const r = native.setDeadline(id, d.runtimeNs, d.deadlineNs, d.periodNs, d.resetOnFork, ourThread);
  if (r !== 0) throw deadlineFailure('setScheduler', what, r, d, { id, field });
}
