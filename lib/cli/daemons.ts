/**
 * `core-process daemons [list | stop NAME | health NAME]` over the daemon registry: what is
 * running, stopping one (SIGTERM, then SIGKILL after a grace, checked against its start time
 * so a recycled pid is never hit), and asking its health endpoint.
 */
import { Command, Option } from 'commander';
import { type DaemonEntry, DaemonRegistry } from '../daemon/registry.js';
import { describe } from '../errors.js';
import { describeOrphans, reapOrphanCgroups } from '../process/orphans.js';
import { liveStartTime } from '../process/proc.js';
import { parseDuration, UsageError } from './parse.js';

interface CommonFlags {
  registry?: string;
  code?: string;
  json?: boolean;
}

function registryOf(f: CommonFlags): DaemonRegistry {
  return new DaemonRegistry(f.registry);
}

// NAME is `code/daemon`, or a daemon name that is unique across codes (or in --code).
function find(registry: DaemonRegistry, name: string, code: string | undefined): DaemonEntry {
  const [c, d] = name.includes('/') ? name.split('/', 2) : [code, name];
  const matches = registry
    .list()
    .filter((e) => e.daemon === d && (c === undefined || e.code === c));
  if (matches.length === 0) throw new UsageError(`no running daemon named ${describe(name)}`);
  if (matches.length > 1) {
    throw new UsageError(
      `${describe(name)} is ambiguous: ${matches.map((e) => `${e.code}/${e.daemon}`).join(', ')} (give code/daemon)`,
    );
  }
  return matches[0] as DaemonEntry;
}

// The same process still: same pid and same start time as registered.
const same = (e: DaemonEntry) => e.startTime !== undefined && liveStartTime(e.pid) === e.startTime;

function uptime(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}

function list(f: CommonFlags): number {
  const entries = registryOf(f)
    .list()
    .filter((e) => f.code === undefined || e.code === f.code);
  if (f.json) {
    process.stdout.write(`${JSON.stringify(entries)}\n`);
    return 0;
  }
  if (entries.length === 0) {
    process.stdout.write('no daemons running\n');
    return 0;
  }
  const rows = [['NAME', 'PID', 'UP', 'HEALTH', 'BINARY']];
  for (const e of entries) {
    rows.push([
      `${e.code}/${e.daemon}`,
      String(e.pid),
      uptime(e.startedAt),
      e.health ?? '-',
      e.binary ?? '-',
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
  return 0;
}

async function stop(name: string, f: CommonFlags & { timeout: number }): Promise<number> {
  const registry = registryOf(f);
  const e = find(registry, name, f.code);
  if (!same(e)) throw new UsageError(`${name}: pid ${e.pid} is no longer that daemon`);
  process.kill(e.pid, 'SIGTERM');
  const deadline = Date.now() + f.timeout;
  while (same(e) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (same(e)) {
    process.kill(e.pid, 'SIGKILL');
    process.stderr.write(
      `${e.code}/${e.daemon}: still running after ${f.timeout} ms, sent SIGKILL\n`,
    );
    while (same(e)) await new Promise((r) => setTimeout(r, 20));
  }
  registry.unregister(e.code, e.daemon);
  process.stdout.write(`stopped ${e.code}/${e.daemon} (pid ${e.pid})\n`);
  return 0;
}

async function health(name: string, f: CommonFlags & { timeout: number }): Promise<number> {
  const e = find(registryOf(f), name, f.code);
  if (e.health === undefined) throw new UsageError(`${name}: registered without a health endpoint`);
  try {
    const res = await fetch(e.health, { signal: AbortSignal.timeout(f.timeout) });
    const body = await res.text();
    if (f.json) process.stdout.write(`${JSON.stringify({ status: res.status, body })}\n`);
    else process.stdout.write(`${e.code}/${e.daemon}: HTTP ${res.status} ${body}\n`);
    return res.ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(
      `${e.code}/${e.daemon}: GET ${e.health} failed: ${(err as Error).message}\n`,
    );
    return 1;
  }
}

/**
 * The `daemons` subcommand and its list, stop and health commands.
 *
 * @example
 * program.addCommand(daemonsSubcommand());
 */
export function daemonsSubcommand(): Command {
  const common = (c: Command) =>
    c
      .option(
        '--registry <dir>',
        'registry directory (default: ~/.local/state/core-process/daemons)',
      )
      .option('--code <code>', 'only daemons of this code (project)');
  const timeout = (ms: number, what: string) =>
    new Option('--timeout <duration>', what).argParser(parseDuration).default(ms, `${ms / 1000}s`);
  const cmd = new Command('daemons').description(
    'list, stop and probe the daemons in the registry',
  );
  cmd.addCommand(
    common(new Command('list'))
      .description(
        'running daemons (dead and recycled pids are pruned, orphaned cgroups of crashed owners removed)',
      )
      .option('--json', 'as JSON')
      .action(async (f: CommonFlags) => {
        // A supervisor or core that was SIGKILLed left its trees' cgroups: clean them here too,
        // on stderr so --json stays parseable.
        for (const line of describeOrphans(await reapOrphanCgroups())) {
          process.stderr.write(`${line}\n`);
        }
        process.exitCode = list(f);
      }),
    { isDefault: true },
  );
  cmd.addCommand(
    common(new Command('stop'))
      .description('SIGTERM a daemon, SIGKILL after --timeout, and unregister it')
      .argument('<name>', 'code/daemon, or a daemon name')
      .addOption(timeout(10_000, 'grace before SIGKILL'))
      .action(async (name: string, f: CommonFlags & { timeout: number }) => {
        process.exitCode = await stop(name, f);
      }),
  );
  cmd.addCommand(
    common(new Command('health'))
      .description("GET the daemon's health endpoint; exit 0 on 2xx")
      .argument('<name>', 'code/daemon, or a daemon name')
      .option('--json', 'as JSON')
      .addOption(timeout(5000, 'request timeout'))
      .action(async (name: string, f: CommonFlags & { timeout: number }) => {
        process.exitCode = await health(name, f);
      }),
  );
  cmd.addHelpText(
    'after',
    `
Examples:
  core-process daemons                      # list
  core-process daemons stop web             # SIGTERM, wait, SIGKILL after 10s
  core-process daemons health myapp/web     # exit 0 when healthy`,
  );
  for (const sub of cmd.commands) sub.exitOverride();
  return cmd;
}
