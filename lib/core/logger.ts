/**
 * The Core's logging seam: where handler failures, subscriber panics and slow services are
 * written. A two-method shape so `console`, pino and a test spy all fit without an adapter.
 */

export interface CoreLogger {
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/**
 * @example
 * const core = new Core({ name: 'app', logger: consoleLogger('app') });
 */
export function consoleLogger(prefix: string): CoreLogger {
  return {
    error: (message, fields) => console.error(`[core:${prefix}] ${message}`, fields ?? ''),
    warn: (message, fields) => console.warn(`[core:${prefix}] ${message}`, fields ?? ''),
  };
}

/**
 * @example
 * const core = new Core({ name: 'test', logger: silentLogger });
 */
export const silentLogger: CoreLogger = { error: () => {}, warn: () => {} };
