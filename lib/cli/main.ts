/**
 * The `core-process` command: run, supervise, daemons, pipeline. Usage errors (unknown flag,
 * bad value, missing program) exit 2 with commander's message naming the flag.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { UsageError } from './parse.js';

// Each subcommand's module is loaded only when that subcommand runs (all of them for the
// top-level help or an unknown name): `run` should not pay for the pipeline renderer, the
// daemon registry or zod at every start.
const SUBCOMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.js')).runSubcommand(),
  supervise: async () => (await import('./supervise.js')).superviseSubcommand(),
  daemons: async () => (await import('./daemons.js')).daemonsSubcommand(),
  pipeline: async () => (await import('./pipeline.js')).pipelineSubcommand(),
  serve: async () => (await import('./serve.js')).serveSubcommand(),
  startup: async () => (await import('./startup.js')).startupSubcommand(),
  shield: async () => (await import('./shield.js')).shieldSubcommand(),
  'rt-check': async () => (await import('./rt-check.js')).rtCheckSubcommand(),
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * The command tree for this command line (`argv` as process.argv); `main` parses with it.
 *
 * @example
 * await (await buildProgram(argv)).parseAsync(argv);
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('core-process')
    .description('process and thread runtime: run, pin, prioritise, limit and supervise programs')
    .version(version())
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  core-process run --cpus 1 --nice 10 --timeout 10m -- make -j4
  core-process supervise --restart on-failure --health http://127.0.0.1:8080/health -- node server.js
  core-process daemons stop web
  core-process pipeline ci.yaml`,
    );
  const wanted = argv[2];
  const names = wanted !== undefined && wanted in SUBCOMMANDS ? [wanted] : Object.keys(SUBCOMMANDS);
  for (const name of names)
    program.addCommand(await (SUBCOMMANDS[name] as () => Promise<Command>)());
  for (const sub of program.commands)
    sub.exitOverride().showHelpAfterError('(add --help for usage)');
  return program;
}

/**
 * Runs the command line; resolves with the exit code.
 *
 * @example
 * process.exitCode = await main(process.argv);
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here too, with exitCode 0.
      return e.exitCode === 0 ? 0 : 2;
    }
    process.stderr.write(`core-process: ${(e as Error).message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
