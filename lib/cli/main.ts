/**
 * The `core-process` command: run, supervise, daemons, pipeline. Usage errors (unknown flag,
 * bad value, missing program) exit 2 with commander's message naming the flag.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { daemonsSubcommand } from './daemons.js';
import { UsageError } from './parse.js';
import { pipelineSubcommand } from './pipeline.js';
import { runSubcommand } from './run.js';
import { serveSubcommand } from './serve.js';
import { superviseSubcommand } from './supervise.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * The command tree; `main` parses with it.
 *
 * @example
 * await buildProgram().parseAsync(['node', 'core-process', 'run', '--', 'true']);
 */
export function buildProgram(): Command {
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
  program.addCommand(runSubcommand());
  program.addCommand(superviseSubcommand());
  program.addCommand(daemonsSubcommand());
  program.addCommand(pipelineSubcommand());
  program.addCommand(serveSubcommand());
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
    await buildProgram().parseAsync([...argv]);
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
