/**
 * `core-process serve`: the REST + WebSocket API and the web panel over a Core with the
 * process service, until SIGINT/SIGTERM (which stop every managed process first).
 */
import { Command, Option } from 'commander';
import { SystemdNotifier } from '../daemon/notify.js';
import { integerIn, UsageError } from './parse.js';

interface ServeFlags {
  host: string;
  port: number;
  token?: string;
  audit?: boolean;
  cors?: string[];
}

/**
 * Serves until a signal; resolves with the exit code.
 *
 * @example
 * process.exitCode = await serveCommand({ host: '127.0.0.1', port: 7070 });
 */
export async function serveCommand(f: ServeFlags): Promise<number> {
  const token = f.token ?? process.env.CORE_PROCESS_TOKEN;
  if (token !== undefined && token.length < 16) {
    throw new UsageError('--token must be at least 16 characters');
  }
  // Loaded here, not at the top: the HTTP stack is most of the CLI's start-up cost, and
  // only this command needs it.
  const [{ serve }, { Core }, { consoleLogger }, { processService }] = await Promise.all([
    import('../api/server.js'),
    import('../core/core.js'),
    import('../core/logger.js'),
    import('../service/service.js'),
  ]);
  const core = new Core({ name: 'core-process', logger: consoleLogger('core-process') });
  core.use(processService(f.audit ? { audit: { root: process.cwd() } } : {}));
  await core.start();
  const api = await serve({
    core,
    host: f.host,
    port: f.port,
    ...(token === undefined ? {} : { token }),
    ...(f.cors === undefined ? {} : { corsOrigins: f.cors }),
  });
  process.stderr.write(
    `core-process API on ${api.url}/api/process (OpenAPI: ${api.url}/api/process/openapi.json)\n` +
      `panel: ${api.panelUrl}\n` +
      (token === undefined ? `token: ${api.token}\n` : ''),
  );
  const notifier = new SystemdNotifier();
  notifier.ready(`API on ${api.url}/api/process`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  notifier.stopping();
  await api.close();
  await core.stop();
  return 0;
}

/**
 * The `serve` subcommand.
 *
 * @example
 * program.addCommand(serveSubcommand());
 */
export function serveSubcommand(): Command {
  return new Command('serve')
    .description('serve the REST + WebSocket API and the web panel')
    .option('--host <address>', 'address to listen on (loopback unless you mean it)', '127.0.0.1')
    .addOption(
      new Option('--port <n>', 'port (0 picks a free one)')
        .argParser(integerIn(0, 65535))
        .default(7070),
    )
    .option(
      '--token <token>',
      'bearer token (default: $CORE_PROCESS_TOKEN, else a new random one, printed)',
    )
    .option(
      '--audit',
      'audit every spawn, signal and exit to the events: subscribers of ./specscore.yaml (else ./core-process.yaml)',
    )
    .option('--cors <origin...>', 'origins allowed to call from browsers elsewhere (default: none)')
    .addHelpText(
      'after',
      `
Examples:
  core-process serve                         # http://127.0.0.1:7070, prints the panel URL with its token
  CORE_PROCESS_TOKEN=... core-process serve --port 9000 --audit
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7070/api/process/processes`,
    )
    .action(async (flags: ServeFlags) => {
      process.exitCode = await serveCommand(flags);
    });
}
