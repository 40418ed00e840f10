/**
 * `core-process supervise`: keep a program running. Restart policy with backoff, a health
 * probe, a live status line on a terminal (plain event lines otherwise), registration in the
 * daemon registry so `core-process daemons` can find it, and SIGINT/SIGTERM stopping the
 * whole group.
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { SystemdNotifier } from '../daemon/notify.js';
import { PidFile } from '../daemon/pidfile.js';
import { previousChild, replacePrevious } from '../daemon/previous.js';
import type { HealthProbe } from '../daemon/probe.js';
import { DaemonRegistry, defaultRegistryDir } from '../daemon/registry.js';
import {
  type DaemonTopic,
  type RestartPolicyName,
  type Supervisor,
  type SupervisorStatus,
  supervise,
} from '../daemon/supervisor.js';
import { describe } from '../errors.js';
import { adoptProcess } from '../process/adopt.js';
import type { ProcessHandle } from '../process/handle.js';
import { describeOrphans, reapOrphanCgroups } from '../process/orphans.js';
import type { SignalName } from '../process/signals.js';
import { integerIn, parseDuration, parseSignal, UsageError } from './parse.js';
import { addSpawnFlags, type SpawnFlags, spawnOptionsFrom } from './spawn-flags.js';
import { type MetricsFlags, parseMetricsAddr, superviseMetrics } from './supervise-metrics.js';

interface SuperviseFlags extends SpawnFlags, MetricsFlags {
  name?: string;
  code: string;
  restart: RestartPolicyName;
  maxRestarts: number;
  window: number;
  backoff: number;
  backoffMax: number;
  health?: string;
  healthCmd?: string;
  healthInterval: number;
  healthTimeout: number;
  healthThreshold: number;
  startPeriod: number;
  stopSignal: SignalName;
  stopGrace: number;
  pidFile?: string;
  register: boolean;
  registry?: string;
  adopt?: boolean;
  replace?: boolean;
}

function healthOf(f: SuperviseFlags): HealthProbe | undefined {
  const timing = {
    intervalMs: f.healthInterval,
    timeoutMs: f.healthTimeout,
    failureThreshold: f.healthThreshold,
    startPeriodMs: f.startPeriod,
  };
  if (f.healthCmd !== undefined) return { exec: ['/bin/sh', '-c', f.healthCmd], ...timing };
  if (f.health === undefined) return undefined;
  if (f.health.startsWith('tcp://')) return { tcp: f.health.slice(6), ...timing };
  if (/^https?:\/\//.test(f.health)) return { http: f.health, ...timing };
  throw new UsageError(
    `--health ${describe(f.health)}: give http://host:port/path or tcp://host:port (or --health-cmd)`,
  );
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function describeEvent(topic: DaemonTopic, p: Record<string, unknown>): string {
  switch (topic) {
    case 'daemon.started':
      return p.adopted === true ? `adopted pid ${p.pid}` : `started pid ${p.pid}`;
    case 'daemon.exited':
      return `exited ${p.signal ? `by ${p.signal}` : p.lost === true ? 'with an unknown status (adopted)' : `with code ${p.code}`} after ${seconds(Number(p.durationMs))}`;
    case 'daemon.restarting':
      return `restarting in ${p.delayMs} ms (${p.reason}), attempt ${p.attempt}`;
    case 'daemon.unhealthy':
      return `unhealthy (${p.failures}/${p.threshold}): ${p.error}`;
    case 'daemon.gave-up':
      return `gave up: ${p.reason}`;
    case 'daemon.stopped':
      return 'stopped';
  }
}

function statusLine(s: SupervisorStatus, since: number): string {
  const health =
    s.healthy === null
      ? ''
      : s.healthy
        ? ' · healthy'
        : ` · UNHEALTHY (${s.consecutiveHealthFailures})`;
  const pid = s.pid === null ? '' : ` · pid ${s.pid} · up ${seconds(performance.now() - since)}`;
  return `${s.name} ${s.state === 'running' ? '●' : '○'} ${s.state}${pid} · restarts ${s.restarts}${health}`;
}

/**
 * Supervises until stopped (SIGINT/SIGTERM: exit 0) or until it gives up (exit 1); with
 * `--restart never` the child's own exit code.
 *
 * @example
 * process.exitCode = await superviseCommand(['node', 'server.js'], flags);
 */
export async function superviseCommand(argv: string[], f: SuperviseFlags): Promise<number> {
  const options = spawnOptionsFrom(argv, f);
  const name = f.name ?? (argv[0] as string).split('/').pop() ?? 'daemon';
  const tty = process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0;
  // The live status line needs a terminal; elsewhere (systemd, a restart after a crash) its
  // module is not worth loading.
  const statusLineWriter = tty ? (await import('log-update')).logUpdateStderr : null;
  const logUpdateStderr = Object.assign((line: string) => statusLineWriter?.(line), {
    done: () => statusLineWriter?.done(),
  });
  let since = performance.now();
  const health = healthOf(f); // a bad --health is a usage error before anything is held
  // Listening before anything is held: a taken port or a signal meanwhile leaves nothing behind.
  const metrics = await superviseMetrics(f);
  const pidFile = f.pidFile !== undefined ? new PidFile(f.pidFile) : null;
  try {
    pidFile?.acquire();
  } catch (e) {
    await metrics?.close();
    throw e;
  }
  // Crash-only: a supervisor SIGKILLed earlier left its child's PID file (the child itself
  // died with it unless it opted out) and the cgroups of its trees. Both are settled before
  // anything starts, so there is never a second copy.
  const childPidFile = path.join(
    f.registry ?? defaultRegistryDir(),
    `${f.code}--${name}.child.pid`,
  );
  const previous = previousChild(childPidFile);
  let adopted: ProcessHandle | undefined;
  if (previous !== null && f.adopt === true) {
    try {
      adopted = adoptProcess({ ...previous, killGrace: f.stopGrace });
      // Its predecessor may have died between recording it and leasing its tree: lease it
      // now, before the reaping below, which spares only leased trees.
      adopted.leaseTree();
      process.stderr.write(
        `[${name}] previous child pid ${previous.pid} is still running: adopting it (--adopt); its exit status will be unknown and its output stays where it went\n`,
      );
    } catch (e) {
      process.stderr.write(`[${name}] cannot adopt pid ${previous.pid}: ${(e as Error).message}\n`);
    }
  }
  if (previous !== null && adopted === undefined) {
    process.stderr.write(
      `[${name}] previous child pid ${previous.pid} is still running: stopping it (--replace)\n`,
    );
    await replacePrevious(previous, f.stopSignal, f.stopGrace);
  }
  // An adopted child's cgroup is leased to it, so this spares it.
  for (const line of describeOrphans(await reapOrphanCgroups())) process.stderr.write(`${line}\n`);
  const notifier = new SystemdNotifier();
  let childRecord: PidFile | null = null;
  const recordChild = (topic: DaemonTopic, payload: Record<string, unknown>) => {
    if (topic === 'daemon.exited') {
      childRecord?.release();
      childRecord = null;
    } else if (topic === 'daemon.started' && typeof payload.pid === 'number') {
      childRecord = new PidFile(childPidFile);
      try {
        // The adopted child's record is already there: take it over rather than rewrite it.
        if (payload.adopted !== true || !childRecord.takeOver(payload.pid)) {
          childRecord.acquire(payload.pid);
        }
      } catch (e) {
        childRecord = null;
        process.stderr.write(`[${name}] cannot record the child: ${(e as Error).message}\n`);
      }
    }
  };
  let s: Supervisor | undefined;
  let bySignal = false;
  // Listening before the child starts: a signal in between would end us with the default
  // action and leave the child's group running unsupervised. Handlers run on the event loop,
  // so never before `s` is set.
  const stop = () => {
    bySignal = true;
    notifier.stopping();
    void s?.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    s = supervise({
      ...options,
      name,
      command: options.program,
      args: options.args ? [...options.args] : [],
      restart: {
        policy: f.restart,
        maxRestarts: f.maxRestarts,
        windowMs: f.window,
        backoff: { initialMs: f.backoff, maxMs: f.backoffMax },
      },
      ...(health === undefined ? {} : { health }),
      stopSignal: f.stopSignal,
      stopGraceMs: f.stopGrace,
      ...(metrics === null ? {} : { start: metrics.start }),
      ...(f.adopt === true ? { outlive: true } : {}),
      ...(adopted === undefined ? {} : { adopt: adopted }),
      onEvent: (topic, payload) => {
        metrics?.observe(topic, payload);
        recordChild(topic, payload);
        notifier.status(`${name}: ${describeEvent(topic, payload)}`);
        if (topic === 'daemon.started') since = performance.now();
        // The first start is reported from inside supervise(), before `s` is assigned; the
        // line is drawn right after it returns.
        if (tty) {
          if (s !== undefined) logUpdateStderr(statusLine(s.status(), since));
        } else process.stderr.write(`[${name}] ${describeEvent(topic, payload)}\n`);
      },
    });
  } catch (e) {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    pidFile?.release();
    await metrics?.close();
    throw e;
  }
  const supervisor = s;
  notifier.ready(statusLine(supervisor.status(), since));
  if (tty) logUpdateStderr(statusLine(supervisor.status(), since));
  const registry = f.register ? new DaemonRegistry(f.registry) : null;
  registry?.register({
    code: f.code,
    daemon: name,
    pid: process.pid,
    startedAt: new Date().toISOString(),
    binary: options.program,
    project: process.cwd(),
    ...(f.health?.startsWith('http') ? { health: f.health } : {}),
  });
  const ticker = tty
    ? setInterval(() => logUpdateStderr(statusLine(supervisor.status(), since)), 500)
    : null;
  const final = await supervisor.done;
  if (!bySignal) notifier.stopping();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (ticker !== null) clearInterval(ticker);
  if (tty) {
    logUpdateStderr(statusLine(final, since));
    logUpdateStderr.done();
    if (final.reason !== null) process.stderr.write(`${name}: ${final.reason}\n`);
  }
  registry?.unregister(f.code, name);
  (childRecord as PidFile | null)?.release();
  pidFile?.release();
  await metrics?.close();
  if (bySignal) return 0;
  if (final.state === 'gave-up') return 1;
  return final.lastExit?.code ?? 1;
}

/**
 * The `supervise` subcommand.
 *
 * @example
 * program.addCommand(superviseSubcommand());
 */
export function superviseSubcommand(): Command {
  const cmd = new Command('supervise')
    .description('keep a program running: restart policy with backoff, health probes, group stop')
    .argument('<program...>', 'the program and its arguments (put them after --)')
    .passThroughOptions()
    .option('--name <name>', 'daemon name (default: the program name)')
    .option('--code <code>', 'registry namespace, e.g. the project', 'default')
    .addOption(
      new Option('--restart <policy>', 'when to restart')
        .choices(['never', 'on-failure', 'always'])
        .default('on-failure'),
    )
    .addOption(
      new Option('--max-restarts <n>', 'give up after this many restarts within --window')
        .argParser(integerIn(0, 1_000_000))
        .default(5),
    )
    .addOption(
      new Option('--window <duration>', 'window for --max-restarts')
        .argParser(parseDuration)
        .default(60_000, '60s'),
    )
    .addOption(
      new Option('--backoff <duration>', 'first restart delay, doubling each time')
        .argParser(parseDuration)
        .default(100, '100ms'),
    )
    .addOption(
      new Option('--backoff-max <duration>', 'longest restart delay')
        .argParser(parseDuration)
        .default(30_000, '30s'),
    )
    .option('--health <url>', 'probe: http://host:port/path (2xx is healthy) or tcp://host:port')
    .option('--health-cmd <command>', 'probe: a shell command that exits 0 when healthy')
    .addOption(
      new Option('--health-interval <duration>', 'between probes')
        .argParser(parseDuration)
        .default(10_000, '10s'),
    )
    .addOption(
      new Option('--health-timeout <duration>', 'per probe')
        .argParser(parseDuration)
        .default(2000, '2s'),
    )
    .addOption(
      new Option('--health-threshold <n>', 'failed probes in a row before a restart')
        .argParser(integerIn(1, 1000))
        .default(3),
    )
    .addOption(
      new Option('--start-period <duration>', 'grace after each start before probing')
        .argParser(parseDuration)
        .default(0, '0s'),
    )
    .addOption(
      new Option('--stop-signal <name>', 'sent to the group to stop it')
        .argParser(parseSignal)
        .default('SIGTERM'),
    )
    .addOption(
      new Option('--stop-grace <duration>', 'SIGKILL this long after the stop signal')
        .argParser(parseDuration)
        .default(5000, '5s'),
    )
    .option(
      '--pid-file <path>',
      'write our pid here; refuse to start if another supervisor holds it',
    )
    .option('--no-register', 'do not list this supervisor in the daemon registry')
    .addOption(
      new Option(
        '--adopt',
        'children outlive a crash of this supervisor; a restarted one adopts the running child instead of starting another (its exit status and output then stay with it)',
      ).conflicts('replace'),
    )
    .option(
      '--replace',
      'the default: children die with this supervisor, and a restarted one stops any child still running before starting its own',
    )
    .addOption(
      new Option('--metrics <addr>', 'serve Prometheus metrics at http://ADDR/metrics').argParser(
        parseMetricsAddr,
      ),
    )
    .option(
      '--metrics-token <token>',
      'bearer token for --metrics (default: $CORE_PROCESS_TOKEN); needed off loopback',
    )
    .option(
      '--registry <dir>',
      'daemon registry directory (default: ~/.local/state/core-process/daemons)',
    );
  addSpawnFlags(cmd)
    .addHelpText(
      'after',
      `
The child runs in its own process group; stopping (Ctrl-C, SIGTERM, a failed health check)
sends --stop-signal to the whole group, then SIGKILL after --stop-grace.
Exit status: 0 when stopped by a signal, 1 when it gave up, else the child's code.

Examples:
  core-process supervise --restart on-failure --health http://127.0.0.1:8080/health -- node server.js
  core-process supervise --restart always --max-restarts 10 --window 5m --cpus 2 -- ./worker
  core-process supervise --health-cmd 'pg_isready -q' --name db -- postgres -D /var/lib/pg
  core-process supervise --metrics 127.0.0.1:9464 -- ./worker   # curl 127.0.0.1:9464/metrics`,
    )
    .action(async (argv: string[], flags: SuperviseFlags) => {
      process.exitCode = await superviseCommand(argv, flags);
    });
  return cmd;
}
