/**
 * `core-process shield --cpus 1 -- cmd`: what `cset shield --exec` does. Shields the CPUs
 * (lib/sched/shield.ts), runs the command inside the shield from its first instruction, and
 * puts everything back when it ends, or when we are told to stop.
 */
import { Command, Option } from 'commander';
import { ProcessError } from '../errors.js';
import { spawn } from '../process/spawn.js';
import { type ShieldScope, shieldCpus } from '../sched/shield.js';
import { parseCpuList } from './parse.js';

interface ShieldFlags {
  cpus: number[];
  scope: ShieldScope;
  json?: boolean;
}

const FORWARDED = ['SIGTERM', 'SIGHUP', 'SIGINT'] as const;

/**
 * Shields `flags.cpus`, runs argv inside the shield, releases; resolves with our exit code.
 * @example
 * process.exitCode = await shieldCommand(['./rt-loop'], { cpus: [1], scope: 'subtree' });
 */
export async function shieldCommand(argv: string[], flags: ShieldFlags): Promise<number> {
  let shield: Awaited<ReturnType<typeof shieldCpus>>;
  try {
    shield = await shieldCpus(flags.cpus, { scope: flags.scope });
  } catch (e) {
    process.stderr.write(`core-process shield: ${(e as Error).message}\n`);
    return e instanceof ProcessError && e.kind === 'InvalidCommand' ? 2 : 1;
  }
  const report = {
    cpus: shield.cpus,
    scope: shield.scope,
    cgroupVersion: shield.cgroupVersion,
    exclusive: shield.exclusive,
    partition: shield.partition,
    moved: shield.moved.length,
    unmovable: shield.unmovable,
    irqsMoved: shield.irqsMoved.length,
    irqsUnmovable: shield.irqsUnmovable,
  };
  if (flags.json) process.stderr.write(`${JSON.stringify(report)}\n`);
  else {
    const stuck = shield.unmovable.map((u) => `${u.id} (${u.what}: ${u.why})`).join(', ');
    process.stderr.write(
      `core-process shield: CPUs ${shield.cpus.join(',')} shielded (${shield.exclusive ? 'exclusive' : 'not exclusive'}), ` +
        `${shield.moved.length} task(s) moved off${stuck ? `; could not move: ${stuck}` : ''}` +
        `${shield.irqsUnmovable.length ? `; ${shield.irqsUnmovable.length} IRQ(s) could not be steered` : ''}\n`,
    );
  }
  let child: ReturnType<typeof spawn> | undefined;
  const handlers = FORWARDED.map((sig) => {
    const handler = () => child?.kill(sig);
    process.on(sig, handler);
    return () => process.off(sig, handler);
  });
  try {
    // A child joins the cpuset of the thread that forks it: step into the shield for the
    // spawn, so the command runs there from its first instruction, then step back out.
    shield.add(process.pid);
    try {
      const [program, ...args] = argv;
      child = spawn({
        program: program as string,
        args,
        stdin: 'inherit',
        stdout: 'inherit',
        stderr: 'inherit',
      });
    } finally {
      shield.remove(process.pid);
    }
    const status = await child.exited;
    return status.code ?? 128 + 9;
  } catch (e) {
    process.stderr.write(`core-process shield: ${(e as Error).message}\n`);
    return e instanceof ProcessError && e.code === 'ENOENT' ? 127 : 126;
  } finally {
    for (const off of handlers) off();
    await shield.release();
  }
}

/**
 * The `shield` subcommand.
 * @example
 * program.addCommand(shieldSubcommand());
 */
export function shieldSubcommand(): Command {
  return new Command('shield')
    .description(
      'run a command alone on some CPUs: move the other tasks off them first (cset shield)',
    )
    .argument('<program...>', 'the program and its arguments (put them after --)')
    .passThroughOptions()
    .addOption(
      new Option('--cpus <list>', 'the CPUs to shield (taskset -c syntax)')
        .argParser(parseCpuList)
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--scope <scope>',
        "whose tasks move off: 'subtree' (ours) or 'system' (all, and IRQs)",
      )
        .choices(['subtree', 'system'])
        .default('subtree'),
    )
    .option('--json', 'print what moved (and what could not) as one JSON object on stderr')
    .addHelpText(
      'after',
      `
Needs write access to the cpuset hierarchy (root): cgroup v1, or v2 where --scope system
makes the shield a cpuset partition ('isolated', else 'root'). Everything moved is put back
when the command ends or on SIGTERM; a shield left by a SIGKILLed core-process is undone by
the next shield. --scope system moves every task of our cpuset and steers IRQs, as
cset shield does: never use it on a machine you share.

Examples:
  core-process shield --cpus 1 -- ./rt-loop               # cset shield -c 1 --exec ./rt-loop
  core-process shield --cpus 1 --scope system -- cyclictest -m -a1 -p50`,
    )
    .action(async (argv: string[], flags: ShieldFlags) => {
      process.exitCode = await shieldCommand(argv, flags);
    });
}
