/**
 * The security policy of the process capability: which programs may run (with which
 * arguments) and the ceilings on what they may ask for. It is reviewed once, when the service
 * starts (`verifyPolicy`), and then decides every spawn before any syscall: a refusal is a
 * ProcessError `PermissionDenied` naming the rule, and nothing runs.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { z } from 'zod';
import { CoreError } from '../core/errors.js';
import { sandboxInputSchema } from '../core/process-sugar.js';
import { describe, ProcessError } from '../errors.js';
import { native } from '../native.js';
import type { SpawnOptions } from '../process/options.js';
import { DEFAULT_SYSCALL_DENY, prepareSandbox, type SandboxOptions } from '../process/sandbox.js';
import { checkCpus, onlineCpus } from '../sched/cpus.js';
import { resolvePriority, type ThreadPriority } from '../sched/priority.js';
import { checkRlimits, type RlimitName, type Rlimits } from '../sched/rlimits.js';
import { checkScheduler, getScheduler, isRealtime } from '../sched/scheduler.js';
import { resolveProgram } from './which.js';

/** One allowed program, optionally with the only argument lists it may take. */
export interface AllowRule {
  /** Absolute path, or a name looked up in PATH once when the service starts. */
  program: string;
  /**
   * One glob per argument position (`*` matches any one argument, slashes included); a
   * final `'...'` allows any further arguments. Omitted: any arguments.
   */
  args?: string[];
}

export interface ProcessPolicy {
  /** Programs that may run; anything else is refused. Omitted: any program. */
  allow?: Array<string | AllowRule>;
  /** Managed processes running at once (process.run, process.start, pipeline specs). */
  maxProcesses?: number;
  /** Highest SCHED_FIFO/SCHED_RR priority a child or thread may get; 0 refuses realtime. */
  maxRealtimePriority?: number;
  /** CPUs children and threads may be pinned to; children without `affinity` get all of them. */
  cpus?: number[];
  /** Limits applied when a spawn names none (`default`), and the most a spawn may ask (`max`). */
  rlimits?: { default?: Rlimits; max?: Rlimits };
  /** May a spawn set `uid`/`gid`? Default false. */
  allowIdChange?: boolean;
  /**
   * The least sandbox every spawn through the service gets: a request without a sandbox gets
   * this one, and a request may tighten it (deny more calls, fewer write roots, less network)
   * but never loosen it: that is PermissionDenied, published and audited.
   */
  sandbox?: SandboxOptions;
}

export interface PolicyProblem {
  /** The policy field at fault, e.g. `allow.2.program`, `cpus`, `rlimits.max.nofile`. */
  field: string;
  value: unknown;
  message: string;
}

export interface PolicyReport {
  ok: boolean;
  problems: PolicyProblem[];
}

const rlimitsSchema = z.record(z.string(), z.unknown());
const policySchema = z.strictObject({
  allow: z
    .array(
      z.union([
        z.string().min(1),
        z.strictObject({ program: z.string().min(1), args: z.array(z.string()).optional() }),
      ]),
    )
    .optional(),
  maxProcesses: z.int().positive().optional(),
  maxRealtimePriority: z.int().min(0).optional(),
  cpus: z.array(z.int().nonnegative()).min(1).optional(),
  rlimits: z
    .strictObject({ default: rlimitsSchema.optional(), max: rlimitsSchema.optional() })
    .optional(),
  allowIdChange: z.boolean().optional(),
  sandbox: sandboxInputSchema.optional(),
});

const REST = '...';

function hasCapability(bit: number): boolean {
  try {
    const line = readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CapEff:'));
    return line !== undefined && (BigInt(`0x${line.slice(7).trim()}`) & (1n << BigInt(bit))) !== 0n;
  } catch {
    return false;
  }
}
const CAP_SYS_NICE = 23;
const CAP_SYS_RESOURCE = 24;

function ourRlimit(name: RlimitName): [number, number] {
  const r = native.getRlimit(0, name);
  if (!Array.isArray(r)) return [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  return [r[0] < 0 ? Infinity : r[0], r[1] < 0 ? Infinity : r[1]];
}

const limitText = (n: number): string => (n === Infinity ? 'unlimited' : String(n));
const fromNative = (n: number): number => (n < 0 ? Infinity : n);

function rlimitMap(field: string, value: Rlimits | undefined): Map<RlimitName, [number, number]> {
  const out = new Map<RlimitName, [number, number]>();
  if (value === undefined) return out;
  for (const [name, soft, hard] of checkRlimits(field, value)) {
    out.set(name, [fromNative(soft), fromNative(hard)]);
  }
  return out;
}

/**
 * Reviews a policy before the service starts: its shape, programs that cannot be found,
 * CPUs that are not online, ceilings the kernel would not grant us, defaults above maxima.
 *
 * @example
 * const report = verifyPolicy({ allow: ['git'], cpus: [0, 7] });
 * // { ok: false, problems: [{ field: 'cpus.1', value: 7, message: 'CPU 7 is not online (online: 0-1)' }] }
 */
export function verifyPolicy(policy: ProcessPolicy): PolicyReport {
  const problems: PolicyProblem[] = [];
  const shape = policySchema.safeParse(policy);
  if (!shape.success) {
    for (const issue of shape.error.issues) {
      const field = issue.path.map(String).join('.') || '(root)';
      problems.push({ field, value: valueAt(policy, issue.path), message: issue.message });
    }
    return { ok: false, problems };
  }
  (policy.allow ?? []).forEach((entry, i) => {
    const rule = typeof entry === 'string' ? { program: entry } : entry;
    const field = typeof entry === 'string' ? `allow.${i}` : `allow.${i}.program`;
    if (resolveProgram(rule.program, process.env.PATH, process.cwd()) === null) {
      problems.push({
        field,
        value: rule.program,
        message: `program ${describe(rule.program)} is not an executable file${rule.program.includes('/') ? '' : ' in PATH'}`,
      });
    }
    const restAt = rule.args?.indexOf(REST) ?? -1;
    if (rule.args !== undefined && restAt >= 0 && restAt !== rule.args.length - 1) {
      problems.push({
        field: `allow.${i}.args.${restAt}`,
        value: REST,
        message: `'${REST}' (any further arguments) may only be the last pattern`,
      });
    }
  });

  if (policy.cpus !== undefined) {
    const online = onlineCpus();
    policy.cpus.forEach((cpu, i) => {
      if (!online.includes(cpu)) {
        problems.push({
          field: `cpus.${i}`,
          value: cpu,
          message: `CPU ${cpu} is not online (online: ${online.join(',')})`,
        });
      }
    });
  }

  if (policy.maxRealtimePriority !== undefined) {
    const [, top] = native.priorityRange('fifo');
    const [rtSoft] = ourRlimit('rtprio');
    if (policy.maxRealtimePriority > top) {
      problems.push({
        field: 'maxRealtimePriority',
        value: policy.maxRealtimePriority,
        message: `is above the kernel's highest realtime priority ${top}`,
      });
    } else if (policy.maxRealtimePriority > rtSoft && !hasCapability(CAP_SYS_NICE)) {
      problems.push({
        field: 'maxRealtimePriority',
        value: policy.maxRealtimePriority,
        message: `cannot be granted: this process lacks CAP_SYS_NICE and RLIMIT_RTPRIO is ${rtSoft}`,
      });
    }
  }

  if (policy.maxProcesses !== undefined) {
    const [nprocSoft] = ourRlimit('nproc');
    if (policy.maxProcesses > nprocSoft) {
      problems.push({
        field: 'maxProcesses',
        value: policy.maxProcesses,
        message: `is above RLIMIT_NPROC (${limitText(nprocSoft)}), which the kernel enforces first`,
      });
    }
  }

  if (policy.sandbox !== undefined) {
    try {
      prepareSandbox(policy.sandbox); // what this kernel cannot do, refused now, not per spawn
    } catch (e) {
      const err = e as ProcessError;
      problems.push({
        field: err.field ?? 'sandbox',
        value: policy.sandbox,
        message: err.message,
      });
    }
  }

  let defaults = new Map<RlimitName, [number, number]>();
  let maxima = new Map<RlimitName, [number, number]>();
  try {
    defaults = rlimitMap('rlimits.default', policy.rlimits?.default);
    maxima = rlimitMap('rlimits.max', policy.rlimits?.max);
  } catch (e) {
    const err = e as ProcessError;
    problems.push({ field: err.field ?? 'rlimits', value: policy.rlimits, message: err.message });
  }
  const canRaise = hasCapability(CAP_SYS_RESOURCE);
  for (const [where, map] of [
    ['default', defaults],
    ['max', maxima],
  ] as const) {
    for (const [name, [soft, hard]] of map) {
      const ours = ourRlimit(name)[1];
      if (!canRaise && Math.max(soft, hard) > ours) {
        problems.push({
          field: `rlimits.${where}.${name}`,
          value: { soft: limitText(soft), hard: limitText(hard) },
          message: `is above this process's hard limit ${limitText(ours)}, which only CAP_SYS_RESOURCE may raise`,
        });
      }
    }
  }
  for (const [name, [soft, hard]] of defaults) {
    const max = maxima.get(name);
    if (max !== undefined && (soft > max[0] || hard > max[1])) {
      problems.push({
        field: `rlimits.default.${name}`,
        value: { soft: limitText(soft), hard: limitText(hard) },
        message: `is above rlimits.max.${name} (${limitText(max[0])}/${limitText(max[1])})`,
      });
    }
  }
  return { ok: problems.length === 0, problems };
}

function valueAt(root: unknown, at: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of at) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

interface CompiledRule {
  program: string;
  patterns: string[] | undefined;
  args: Array<(arg: string) => boolean> | undefined;
  rest: boolean;
}

/**
 * What a caller sees at the action boundary for a policy refusal: kind PermissionDenied,
 * the policy's ProcessError as cause.
 *
 * @example
 * throw refusal('process.start', e); // r.error.kind === 'PermissionDenied'
 */
export function refusal(action: string, e: ProcessError): CoreError {
  return new CoreError('PermissionDenied', `action ${action}: ${e.message}`, {
    action,
    field: e.field,
    reason: e.message,
    cause: e,
  });
}

function denied(message: string, field: string): ProcessError {
  return new ProcessError('PermissionDenied', `policy: ${message}`, { field, code: 'EPERM' });
}

/**
 * A verified policy, ready to decide spawns. Built by `compilePolicy`.
 *
 * @example
 * const gate = compilePolicy({ allow: ['true'] });
 * gate.admitSpawn({ program: 'true' }, 0); // { program: '/usr/bin/true', ... }
 */
export class PolicyGate {
  readonly policy: ProcessPolicy;
  readonly #rules: Map<string, CompiledRule[]> | undefined;
  readonly #cpus: Set<number> | undefined;
  readonly #defaults: Map<RlimitName, [number, number]>;
  readonly #maxima: Map<RlimitName, [number, number]>;

  /** @internal Use compilePolicy. */
  constructor(policy: ProcessPolicy) {
    this.policy = policy;
    if (policy.allow !== undefined) {
      this.#rules = new Map();
      for (const entry of policy.allow) {
        const rule = typeof entry === 'string' ? { program: entry } : entry;
        const real = resolveProgram(rule.program, process.env.PATH, process.cwd());
        if (real === null) continue; // verifyPolicy already refused this policy
        const patterns = rule.args ?? undefined;
        const rest = patterns !== undefined && patterns[patterns.length - 1] === REST;
        const compiled: CompiledRule = {
          program: real,
          patterns,
          rest,
          args: patterns
            ?.slice(0, rest ? -1 : undefined)
            .map((p) => picomatch(p, { bash: true, dot: true })),
        };
        const list = this.#rules.get(real) ?? [];
        list.push(compiled);
        this.#rules.set(real, list);
      }
    }
    this.#cpus = policy.cpus === undefined ? undefined : new Set(policy.cpus);
    this.#defaults = rlimitMap('rlimits.default', policy.rlimits?.default);
    this.#maxima = rlimitMap('rlimits.max', policy.rlimits?.max);
  }

  /**
   * Decides a spawn. Returns the options to spawn with: the program as the absolute path
   * that was checked (so a PATH in `env` cannot swap it), the CPU set and rlimits filled in.
   * Throws ProcessError `PermissionDenied` naming the rule that refused.
   *
   * @example
   * const options = gate.admitSpawn({ program: 'git', args: ['log'] }, running);
   */
  admitSpawn(options: SpawnOptions, running: number): SpawnOptions {
    const max = this.policy.maxProcesses;
    if (max !== undefined && running >= max) {
      throw denied(
        `${running} managed processes are running, the most allowed (maxProcesses ${max})`,
        'maxProcesses',
      );
    }
    const out: SpawnOptions = { ...options };
    if (this.#rules !== undefined) out.program = this.#admitProgram(options);
    if (
      (options.uid !== undefined || options.gid !== undefined) &&
      this.policy.allowIdChange !== true
    ) {
      throw denied(
        `changing uid/gid (${describe({ uid: options.uid, gid: options.gid })}) is not allowed (allowIdChange is false)`,
        options.uid !== undefined ? 'uid' : 'gid',
      );
    }
    if (options.scheduler !== undefined) {
      // Validated first: a bad value is InvalidCommand, and an omitted realtime priority is
      // judged as the default the child would get (50), not as 0.
      const s = checkScheduler('scheduler', options.scheduler);
      this.#admitRealtime('scheduler', s.policy, s.priority);
    } else if (
      options.inheritScheduling === true &&
      this.policy.maxRealtimePriority !== undefined
    ) {
      const mine = getScheduler();
      this.#admitRealtime('inheritScheduling', mine.policy, mine.priority);
    }
    if (this.#cpus !== undefined) {
      out.affinity =
        options.affinity === undefined
          ? [...this.#cpus]
          : this.#admitCpus('affinity', checkCpus('affinity', options.affinity));
    }
    if (this.#defaults.size > 0 || this.#maxima.size > 0)
      out.rlimits = this.#admitRlimits(options.rlimits);
    if (this.policy.sandbox !== undefined) out.sandbox = this.#admitSandbox(options.sandbox);
    return out;
  }

  // The policy's sandbox is a floor: fill in what the request leaves out, refuse what it
  // loosens. Paths are compared after resolving symlinks, as Landlock will open them.
  #admitSandbox(requested: SandboxOptions | undefined): SandboxOptions {
    const floor = this.policy.sandbox as SandboxOptions;
    if (requested === undefined || requested === null || typeof requested !== 'object') {
      return structuredClone(floor);
    }
    const out: SandboxOptions = { ...requested };
    if (floor.network !== undefined) {
      const rank = { host: 0, loopback: 1, none: 2 } as const;
      if (requested.network === undefined) out.network = floor.network;
      else if ((rank[requested.network] ?? -1) < rank[floor.network]) {
        throw denied(
          `sandbox.network: '${requested.network}' is looser than the policy's '${floor.network}'`,
          'sandbox.network',
        );
      }
    }
    if (floor.syscalls !== undefined) {
      const asked = requested.syscalls;
      if (asked === undefined) out.syscalls = structuredClone(floor.syscalls);
      else if (floor.syscalls === 'default') {
        if (asked !== 'default') {
          throw denied(
            "sandbox.syscalls: a custom deny list cannot replace the policy's 'default' (it lacks the ioctl, clone and ABI rules)",
            'sandbox.syscalls',
          );
        }
      } else {
        const have: readonly string[] =
          asked === 'default' ? DEFAULT_SYSCALL_DENY.syscalls : (asked.deny ?? []);
        const missing = floor.syscalls.deny.filter((n) => !have.includes(n));
        if (missing.length > 0) {
          throw denied(
            `sandbox.syscalls: leaves out ${describe(missing)}, which the policy denies`,
            'sandbox.syscalls',
          );
        }
      }
    }
    if (floor.filesystem !== undefined) {
      const asked = requested.filesystem;
      if (asked === undefined) out.filesystem = structuredClone(floor.filesystem);
      else {
        const real = (p: string): string => {
          try {
            return realpathSync(p);
          } catch {
            return path.resolve(p); // spawn will refuse it as NotFound
          }
        };
        const under = (p: string, roots: readonly string[]): boolean =>
          roots.some((r) => {
            const root = real(r);
            return p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);
          });
        for (const w of asked.write ?? []) {
          if (!under(real(w), floor.filesystem.write)) {
            throw denied(
              `sandbox.filesystem.write: ${describe(w)} is outside the policy's write roots ${describe(floor.filesystem.write)}`,
              'sandbox.filesystem.write',
            );
          }
        }
        if (floor.filesystem.read !== undefined) {
          const readable = [...floor.filesystem.read, ...floor.filesystem.write];
          if (asked.read === undefined) {
            out.filesystem = { ...asked, read: [...floor.filesystem.read] };
          } else {
            for (const r of asked.read) {
              if (!under(real(r), readable)) {
                throw denied(
                  `sandbox.filesystem.read: ${describe(r)} is outside the policy's read roots ${describe(floor.filesystem.read)}`,
                  'sandbox.filesystem.read',
                );
              }
            }
          }
        }
      }
    }
    return out;
  }

  /**
   * Decides a thread's placement and priority (thread.create, thread.affinity).
   *
   * @example
   * gate.admitThread({ affinity: [1], priority: 'realtime' });
   */
  admitThread(options: { affinity?: readonly number[]; priority?: ThreadPriority }): void {
    if (options.affinity !== undefined) this.#admitCpus('affinity', options.affinity);
    if (options.priority !== undefined) {
      const p = resolvePriority('priority', options.priority);
      this.#admitRealtime('priority', p.policy, p.priority);
    }
  }

  #admitProgram(options: SpawnOptions): string {
    const cwd = options.cwd ?? process.cwd();
    const env = options.clearEnv ? (options.env ?? {}) : { ...process.env, ...options.env };
    const real = resolveProgram(options.program, env.PATH, cwd);
    const rules = real === null ? undefined : this.#rules?.get(real);
    if (real === null || rules === undefined) {
      throw denied(
        `program ${describe(options.program)}${real !== null && real !== options.program ? ` (${real})` : ''} is not in the allow list`,
        'program',
      );
    }
    const args = options.args ?? [];
    const fits = (r: CompiledRule): boolean => {
      if (r.args === undefined) return true;
      if (r.rest ? args.length < r.args.length : args.length !== r.args.length) return false;
      return r.args.every((match, i) => match(args[i] as string));
    };
    if (!rules.some(fits)) {
      throw denied(
        `arguments ${describe(args)} of ${real} match none of its allowed patterns (${rules
          .map((r) => (r.patterns === undefined ? 'any' : describe(r.patterns)))
          .join(', ')})`,
        'args',
      );
    }
    return real;
  }

  #admitRealtime(field: string, policy: string, priority: number): void {
    const ceiling = this.policy.maxRealtimePriority;
    if (ceiling === undefined) return;
    if (policy === 'deadline') {
      // SCHED_DEADLINE runs ahead of every FIFO/RR priority: no ceiling below it admits it.
      throw denied(
        `${field}: SCHED_DEADLINE preempts every realtime priority and is not allowed under maxRealtimePriority ${ceiling}`,
        field,
      );
    }
    if (!isRealtime(policy)) return;
    if (priority > ceiling || ceiling === 0) {
      throw denied(
        `${field}: realtime ${policy} priority ${priority} is above maxRealtimePriority ${ceiling}`,
        field,
      );
    }
  }

  #admitCpus(field: string, cpus: readonly number[]): number[] {
    const allowed = this.#cpus;
    if (allowed === undefined) return [...cpus];
    const outside = cpus.filter((c) => !allowed.has(c));
    if (outside.length > 0) {
      throw denied(
        `${field}: CPU ${outside.join(',')} is outside the allowed set ${[...allowed].join(',')}`,
        field,
      );
    }
    return [...cpus];
  }

  #admitRlimits(requested: Rlimits | undefined): Rlimits {
    const asked = rlimitMap('rlimits', requested);
    const out: Rlimits = {};
    for (const [name, [soft, hard]] of asked) {
      const max = this.#maxima.get(name);
      if (max !== undefined && (soft > max[0] || hard > max[1])) {
        throw denied(
          `rlimits.${name}: ${limitText(soft)}/${limitText(hard)} is above the maximum ${limitText(max[0])}/${limitText(max[1])}`,
          `rlimits.${name}`,
        );
      }
      out[name] = {
        soft: soft === Infinity ? 'unlimited' : soft,
        hard: hard === Infinity ? 'unlimited' : hard,
      };
    }
    // Unasked limits get the default, else the maximum: a child must not inherit ours when
    // ours is above the ceiling.
    for (const [name, value] of [...this.#maxima, ...this.#defaults]) {
      if (asked.has(name)) continue;
      const [soft, hard] = value;
      out[name] = {
        soft: soft === Infinity ? 'unlimited' : soft,
        hard: hard === Infinity ? 'unlimited' : hard,
      };
    }
    return out;
  }
}

/**
 * Verifies a policy and builds its gate; throws ProcessError `InvalidCommand` listing every
 * problem when the policy contradicts itself or the machine.
 *
 * @example
 * const gate = compilePolicy({ allow: [{ program: 'git', args: ['log', '...'] }], maxProcesses: 8 });
 */
export function compilePolicy(policy: ProcessPolicy): PolicyGate {
  const report = verifyPolicy(policy);
  if (!report.ok) {
    const lines = report.problems.map(
      (p) => `${p.field}: ${p.message} (value ${describe(p.value)})`,
    );
    throw new ProcessError('InvalidCommand', `process policy rejected:\n  ${lines.join('\n  ')}`, {
      field: report.problems[0]?.field,
      code: 'EINVAL',
    });
  }
  return new PolicyGate(policy);
}
