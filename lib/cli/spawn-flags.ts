/**
 * The flags `run` and `supervise` share: everything applied to the child before exec
 * (CPUs, policy, nice, rlimits, group, session, cwd, env), and their conversion to
 * SpawnOptions.
 */
import { type Command, Option } from 'commander';
import type { SpawnOptions } from '../process/options.js';
import type { Rlimits } from '../sched/rlimits.js';
import type { SchedulerSpec } from '../sched/scheduler.js';
import { collectEnv, collectRlimit, integerIn, parseCpuList, parseDeadline } from './parse.js';

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
    .option('--clear-env', 'start from an empty environment (env -i)');
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
  return out;
}
