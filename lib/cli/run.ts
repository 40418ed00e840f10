/**
 * `core-process run`: taskset + chrt + nice + prlimit + timeout + /usr/bin/time in one.
 * Everything is applied in the child before exec; signals sent to us are passed on; we exit
 * with the child's code (or 128 + its signal) and print what it cost.
 */

import { constants } from 'node:os';
import { Command, Option } from 'commander';
import { ProcessError } from '../errors.js';
import type { SignalName } from '../process/signals.js';
import { signalNumber } from '../process/signals.js';
import { spawn } from '../process/spawn.js';
import { parseDuration, parseSignal } from './parse.js';
import { RT_NODE_FLAGS, withRtNodeFlags } from './rt-node.js';
import { addSpawnFlags, type SpawnFlags, spawnOptionsFrom } from './spawn-flags.js';
import { formatSummary, summarize } from './summary.js';

interface RunFlags extends SpawnFlags {
  timeout?: number;
  killAfter?: number;
  signal: SignalName;
  json?: boolean;
  quiet?: boolean;
  rtNode?: boolean;
}

// Signals a terminal sends to its whole foreground group: a child in our group already got
// them, so passing them on would deliver them twice.
const TERMINAL: readonly SignalName[] = ['SIGINT', 'SIGQUIT'];
const FORWARDED: readonly SignalName[] = ['SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', ...TERMINAL];

/** Exit code for a spawn failure, as a shell would: 127 not found, 126 found but not runnable. */
function spawnFailureCode(e: unknown): number {
  // A value the library refused before any syscall (--cpus 99) is a usage error.
  if (e instanceof ProcessError && e.kind === 'InvalidCommand') return 2;
  return e instanceof ProcessError && e.code === 'ENOENT' ? 127 : 126;
}

/**
 * Runs the command line's program to completion; resolves with our exit code.
 *
 * @example
 * process.exitCode = await runCommand(['sleep', '1'], { cpus: [1], nice: 5, signal: 'SIGTERM' });
 */
export async function runCommand(argv: string[], flags: RunFlags): Promise<number> {
  if (flags.rtNode) {
    const withFlags = withRtNodeFlags(argv);
    if (withFlags === null) {
      process.stderr.write(
        `core-process run: --rt-node needs a node program (node, nodejs, ${process.execPath}), not ${JSON.stringify(argv[0])}\n`,
      );
      return 2;
    }
    argv = withFlags;
  }
  const options = spawnOptionsFrom(argv, flags);
  if (flags.timeout !== undefined) {
    options.timeout = flags.timeout;
    options.killSignal = flags.signal;
    if (flags.killAfter !== undefined) options.killGrace = flags.killAfter;
  }
  options.stdin = 'inherit';
  options.stdout = 'inherit';
  options.stderr = 'inherit';
  const ownGroup = options.processGroup === true || options.newSession === true;
  let child: ReturnType<typeof spawn> | undefined;
  // Listening before the spawn: a signal that comes while the child starts would otherwise
  // end us with the default action and leave the child running. Handlers run on the event
  // loop, so never before `child` is set.
  const handlers = FORWARDED.map((sig) => {
    const handler = () => {
      if (child === undefined || (!ownGroup && TERMINAL.includes(sig))) return;
      if (ownGroup) child.killGroup(sig);
      else child.kill(sig);
    };
    process.on(sig, handler);
    return () => process.off(sig, handler);
  });
  try {
    child = spawn(options);
  } catch (e) {
    for (const off of handlers) off();
    process.stderr.write(`core-process run: ${(e as Error).message}\n`);
    return spawnFailureCode(e);
  }
  // Read after spawn returned: the child has exec'd by then (vfork semantics), so this is at
  // least the peak the kernel carried into it.
  const launcherPeakKb = process.resourceUsage().maxRSS;
  const status = await child.exited;
  for (const off of handlers) off();
  const code =
    status.signal !== null
      ? 128 + signalNumber(status.signal as SignalName)
      : (status.code ?? 128 + constants.signals.SIGKILL);
  const summary = summarize(options, status, child.timedOut, code, launcherPeakKb);
  if (flags.json) process.stderr.write(`${JSON.stringify(summary)}\n`);
  else if (!flags.quiet) process.stderr.write(`${formatSummary(summary)}\n`);
  return code;
}

/**
 * The `run` subcommand.
 *
 * @example
 * program.addCommand(runSubcommand());
 */
export function runSubcommand(): Command {
  const cmd = new Command('run')
    .description(
      'run a program with CPUs, scheduling, nice, rlimits and a timeout applied before exec, then report what it cost',
    )
    .argument('<program...>', 'the program and its arguments (put them after --)')
    .passThroughOptions();
  addSpawnFlags(cmd)
    .addOption(
      new Option(
        '--timeout <duration>',
        'signal the child after this long (10s, 500ms, 2m)',
      ).argParser(parseDuration),
    )
    .addOption(
      new Option(
        '--kill-after <duration>',
        'SIGKILL this long after the timeout signal (timeout -k)',
      ).argParser(parseDuration),
    )
    .addOption(
      new Option('--signal <name>', 'signal sent at the timeout')
        .default('SIGTERM')
        .argParser(parseSignal),
    )
    .option(
      '--rt-node',
      `the program is Node: add ${RT_NODE_FLAGS.join(' ')} (realtime GC settings) after it`,
    )
    .option('--json', 'print the summary as one JSON object on stderr')
    .option('-q, --quiet', 'print no summary')
    .addHelpText(
      'after',
      `
The child's stdin, stdout and stderr are ours. SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to
core-process are passed on (to the whole group with --group or --session); so are SIGINT and
SIGQUIT when the child has its own group (otherwise the terminal already sent them to it).
Exit status: the child's code, 128 + signal number if a signal ended it, 127 if the program
was not found, 126 if it could not be run.

Examples:
  core-process run --cpus 0,2-3 -- make -j4          # taskset -c 0,2-3 make -j4
  core-process run --fifo 50 --cpus 1 -- ./rt-loop   # chrt -f 50 taskset -c 1 ./rt-loop
  core-process run --nice 10 --rlimit nofile=1024 -- ./server
                                                     # nice -n 10 prlimit --nofile=1024 ./server
  core-process run --timeout 10s --kill-after 2s --group -- npm test
                                                     # timeout -k 2s 10s npm test, whole tree
  core-process run --json -- gzip -9 big.log         # /usr/bin/time, as JSON on stderr
  core-process run --rt-node --fifo 50 --cpus 1 -- node loop.js
                                                     # node --single-threaded-gc ... loop.js`,
    )
    .action(async (argv: string[], flags: RunFlags) => {
      process.exitCode = await runCommand(argv, flags);
    });
  return cmd;
}
