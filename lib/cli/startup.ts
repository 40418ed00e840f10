/**
 * `core-process startup [--user] [--install] -- <supervise arguments>`: a systemd unit that
 * runs `core-process supervise` with those arguments at boot (the supervisor of the
 * supervisor). Type=notify (supervise speaks sd_notify), KillMode=control-group (a crash of
 * the supervisor takes the whole tree with it), Restart=on-failure, Delegate=yes (so supervise
 * can give each child its own cgroup inside the unit's). Printed, or written with --install.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { UsageError } from './parse.js';

interface StartupFlags {
  user?: boolean;
  install?: boolean;
}

// systemd's command-line quoting: double quotes with \ escapes; % and $ are specifiers and
// variables unless doubled.
function quote(arg: string): string {
  const escaped = arg
    .replaceAll('\\', '\\\\')
    .replaceAll('"', '\\"')
    .replaceAll('%', '%%')
    .replaceAll('$', '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) && !arg.includes('%') ? arg : `"${escaped}"`;
}

/** The value of `--name` in supervise arguments, else the program's base name. */
function daemonName(args: readonly string[]): string {
  const i = args.indexOf('--name');
  if (i >= 0 && args[i + 1] !== undefined) return args[i + 1] as string;
  const eq = args.find((a) => a.startsWith('--name='));
  if (eq !== undefined) return eq.slice('--name='.length);
  const dash = args.indexOf('--');
  const program = dash >= 0 ? args[dash + 1] : args.find((a) => !a.startsWith('-'));
  return path.basename(program ?? 'daemon');
}

/**
 * The unit text for `core-process supervise <args>` run by `node` and `bin`.
 *
 * @example
 * systemdUnit(['--cpus', '1', '--', 'node', 'server.js'], { user: false }); // '[Unit]\n...'
 */
export function systemdUnit(
  args: readonly string[],
  options: { user: boolean; node?: string; bin?: string; cwd?: string },
): string {
  const node = options.node ?? process.execPath;
  const bin = options.bin ?? path.resolve(process.argv[1] ?? 'core-process');
  const name = daemonName(args);
  const exec = [node, bin, 'supervise', ...args].map(quote).join(' ');
  return `[Unit]
Description=core-process supervise ${name}
After=network.target

[Service]
Type=notify
NotifyAccess=main
ExecStart=${exec}
WorkingDirectory=${quote(options.cwd ?? process.cwd())}
KillMode=control-group
Restart=on-failure
RestartSec=1
Delegate=yes
TimeoutStopSec=30

[Install]
WantedBy=${options.user ? 'default.target' : 'multi-user.target'}
`;
}

/**
 * Prints the unit, or writes it under the systemd unit directory with --install.
 *
 * @example
 * process.exitCode = startupCommand(['--', 'node', 'server.js'], { user: true });
 */
export function startupCommand(args: string[], f: StartupFlags): number {
  if (!args.includes('--') && args.length === 0) {
    throw new UsageError('give the supervise arguments after --, e.g. -- node server.js');
  }
  const user = f.user === true;
  const unit = systemdUnit(args, { user });
  const file = `core-process-${daemonName(args).replace(/[^A-Za-z0-9:_.\\-]/g, '_')}.service`;
  if (f.install !== true) {
    process.stdout.write(unit);
    return 0;
  }
  const dir = user
    ? path.join(process.env.XDG_CONFIG_HOME ?? path.join(homedir(), '.config'), 'systemd', 'user')
    : '/etc/systemd/system';
  mkdirSync(dir, { recursive: true });
  const target = path.join(dir, file);
  writeFileSync(target, unit, { mode: 0o644 });
  const ctl = user ? 'systemctl --user' : 'systemctl';
  process.stdout.write(
    `wrote ${target}\nnow: ${ctl} daemon-reload && ${ctl} enable --now ${file}\n`,
  );
  return 0;
}

/**
 * The `startup` subcommand.
 *
 * @example
 * program.addCommand(startupSubcommand());
 */
export function startupSubcommand(): Command {
  return new Command('startup')
    .description('print (or --install) a systemd unit that runs `supervise` with these arguments')
    .argument('<supervise-args...>', 'supervise flags, then -- and the program')
    .option('--user', 'a user unit (systemctl --user), started at login')
    .option('--install', 'write the unit file instead of printing it')
    .allowUnknownOption()
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Type=notify, KillMode=control-group, Restart=on-failure, Delegate=yes. Pinning and priority
flags (--cpus, --fifo, --nice...) are carried over to supervise as given.

Examples:
  core-process startup --user -- --restart always --cpus 2 -- node server.js
  core-process startup --install -- --name db --health-cmd 'pg_isready -q' -- postgres -D /var/lib/pg`,
    )
    .action((args: string[], flags: StartupFlags) => {
      process.exitCode = startupCommand(args, flags);
    });
}
