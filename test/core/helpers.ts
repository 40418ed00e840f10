// Shared by the core tests: a Core whose logger records instead of printing, and a way to
// wait for the bus to deliver without sleeping for a guessed time.
import { Core, type CoreLogger, type CoreOptions } from '../../lib/core/index.js';
import { scaled } from '../helpers.js';

export interface LogLine {
  level: 'error' | 'warn';
  message: string;
  fields: Readonly<Record<string, unknown>> | undefined;
}

export function recordingLogger(): CoreLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
  };
}

export function testCore(options: Partial<CoreOptions> = {}): Core & { log: LogLine[] } {
  const logger = recordingLogger();
  const core = new Core({ name: 'test', logger, ...options });
  return Object.assign(core, { log: logger.lines });
}

/** Polls until `check` holds, with a generous bound; the bound is a failure, not a timing. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  // An upper bound on a wait: longer where everything runs slower (the qemu lanes).
  const bound = scaled(timeoutMs);
  const end = Date.now() + bound;
  while (!check()) {
    if (Date.now() > end) throw new Error(`condition not met within ${bound} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
