/**
 * The flags `run` and `supervise` share: everything applied to the child before exec
 * (CPUs, policy, nice, rlimits, group, session, cwd, env), and their conversion to
 * SpawnOptions.
 */
import { type Command, Option } from 'commander';
import type { Limits } from '../process/limits.js';
import type { SpawnOptions } from '../process/options.js';
import type { SandboxOptions } from '../process/sandbox.js';
import type { Rlimits } from '../sched/rlimits.js';
import type { SchedulerSpec } from '../sched/scheduler.js';
import {
  collectEnv,
  collectList,
  collectRlimit,
  integerIn,
  parseCpuLimit,
  parseCpuList,
  parseDeadline,
  parseSize,
} from './parse.js';

export interface SpawnFlags {
  cpus?: number[];
  fifo?: number;
  rr?: number;
  batch?: boolean;
  idle?: boolean;
  /** --deadline RUNTIME/DEADLINE/PERIOD: SCHED_DEADLINE (chrt -d). */
  deadline?: { runtimeNs: number; deadlineNs: number; periodNs: number };
  nice?: number;
  rlimit?: Rlimits;
  group?: boolean;
  session?: boolean;
  cwd?: string;
  env?: Record<string, string>;
  clearEnv?: boolean;
  sandboxNet?: 'none' | 'loopback' | 'host';
  sandboxWrite?: string[];
  sandboxRead?: string[];
  privateTmp?: boolean;
  seccomp?: string;
  /** false with --no-new-privs (commander names a --no- flag after what it negates). */
  newPrivs?: boolean;
  memory?: number;
  pids?: number;
  cpu?: Limits['cpu'];
}

const POLICIES = ['fifo', 'rr', 'batch', 'idle', 'deadline'];

/**
 * Adds the spawn flags to a command.
 *
 * @example
 * addSpawnFlags(new Command('run')).action((argv, flags) => spawn(spawnOptionsFrom(argv, flags)));
 */
export function addSpawnFlags(cmd: Command): Command {
  const others = (self: string) => POLICIES.filter((p) => p !== self);
  return cmd
    .addOption(
      new Option('--cpus <list>', 'pin to these CPUs (taskset -c syntax: 0,2-3)').argParser(
        parseCpuList,
      ),
    )
    .addOption(
      new Option('--fifo <priority>', 'SCHED_FIFO at this priority (chrt -f)')
        .argParser(integerIn(1, 99))
        .conflicts(others('fifo')),
    )
    .addOption(
      new Option('--rr <priority>', 'SCHED_RR at this priority (chrt -r)')
        .argParser(integerIn(1, 99))
        .conflicts(others('rr')),
    )
    .addOption(new Option('--batch', 'SCHED_BATCH (chrt -b)').conflicts(others('batch')))
    .addOption(new Option('--idle', 'SCHED_IDLE (chrt -i)').conflicts(others('idle')))
    .addOption(
      new Option(
        '--deadline <runtime/deadline/period>',
        'SCHED_DEADLINE with reset-on-fork, e.g. 200us/1ms/1ms (chrt -d -R)',
      )
        .argParser(parseDeadline)
        .conflicts(others('deadline')),
    )
    .addOption(new Option('--nice <n>', 'niceness -20..19 (nice -n)').argParser(integerIn(-20, 19)))
    .addOption(
      new Option('--rlimit <name=soft[:hard]>', 'resource limit, repeatable (prlimit)')
        .argParser(collectRlimit)
        .default(undefined),
    )
    .option('--group', 'run in a new process group, and signal the whole group')
    .option('--session', 'run in a new session (setsid)')
    .option('--cwd <dir>', 'working directory')
    .addOption(new Option('--env <KEY=VALUE>', 'set a variable, repeatable').argParser(collectEnv))
    .option('--clear-env', 'start from an empty environment (env -i)')
    .addOption(
      new Option(
        '--sandbox-net <mode>',
        'network namespace: none, loopback (lo only) or host',
      ).choices(['none', 'loopback', 'host']),
    )
    .addOption(
      new Option('--sandbox-write <dir>', 'Landlock: may write only under this, repeatable')
        .argParser(collectList)
        .default(undefined),
    )
    .addOption(
      new Option(
        '--sandbox-read <dir>',
        'Landlock: may read only under this (and write dirs), repeatable',
      )
        .argParser(collectList)
        .default(undefined),
    )
    .option('--private-tmp', 'a private, empty /tmp (tmpfs in a mount namespace)')
    .option('--seccomp <list>', "seccomp deny list: 'default' or comma-separated syscall names")
    .option('--no-new-privs', 'no_new_privs only (implied by every other sandbox flag)')
    .addOption(
      new Option('--memory <size>', 'memory limit for the tree (256M, 2G)').argParser(parseSize),
    )
    .addOption(
      new Option('--pids <n>', 'most processes and threads in the tree').argParser(
        integerIn(1, 4_194_304),
      ),
    )
    .addOption(
      new Option('--cpu <limit>', 'CPU limit: 50% of one CPU, or quotaUs/periodUs').argParser(
        parseCpuLimit,
      ),
    );
}

function sandboxOf(f: SpawnFlags): SandboxOptions | undefined {
  const s: SandboxOptions = {};
  if (f.newPrivs === false) s.noNewPrivileges = true;
  if (f.sandboxNet !== undefined) s.network = f.sandboxNet;
  if (f.privateTmp) s.privateTmp = true;
  if (f.sandboxWrite !== undefined || f.sandboxRead !== undefined) {
    s.filesystem = { write: f.sandboxWrite ?? [] };
    if (f.sandboxRead !== undefined) s.filesystem.read = f.sandboxRead;
  }
  if (f.seccomp !== undefined) {
    s.syscalls =
      f.seccomp === 'default'
        ? 'default'
        : {
            deny: f.seccomp
              .split(',')
              .map((n) => n.trim())
              .filter((n) => n !== ''),
          };
  }
  return Object.keys(s).length === 0 ? undefined : s;
}

function limitsOf(f: SpawnFlags): Limits | undefined {
  const l: Limits = {};
  if (f.memory !== undefined) l.memoryBytes = f.memory;
  if (f.pids !== undefined) l.pids = f.pids;
  if (f.cpu !== undefined) l.cpu = f.cpu;
  return Object.keys(l).length === 0 ? undefined : l;
}

function schedulerOf(f: SpawnFlags): SchedulerSpec | undefined {
  if (f.fifo !== undefined) return { policy: 'fifo', priority: f.fifo };
  if (f.rr !== undefined) return { policy: 'rr', priority: f.rr };
  if (f.batch) return { policy: 'batch' };
  if (f.idle) return { policy: 'idle' };
  if (f.deadline !== undefined) return { policy: 'deadline', ...f.deadline };
  return undefined;
}

/**
 * SpawnOptions for `argv` with the flags applied.
 *
 * @example
 * spawnOptionsFrom(['sleep', '1'], { cpus: [1], nice: 5 });
 */
export function spawnOptionsFrom(argv: readonly string[], f: SpawnFlags): SpawnOptions {
  const [program, ...args] = argv;
  const out: SpawnOptions = { program: program as string, args };
  if (f.cpus !== undefined) out.affinity = f.cpus;
  const scheduler = schedulerOf(f);
  if (scheduler !== undefined) out.scheduler = scheduler;
  if (f.nice !== undefined) out.nice = f.nice;
  if (f.rlimit !== undefined) out.rlimits = f.rlimit;
  if (f.session) out.newSession = true;
  else if (f.group) out.processGroup = true;
  if (f.cwd !== undefined) out.cwd = f.cwd;
  if (f.env !== undefined) out.env = f.env;
  if (f.clearEnv) out.clearEnv = true;
  const sandbox = sandboxOf(f);
  if (sandbox !== undefined) out.sandbox = sandbox;
  const limits = limitsOf(f);
  if (limits !== undefined) out.limits = limits;
  return out;
}
