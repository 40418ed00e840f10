/**
 * `core.process()`: typed sugar over the `process.run` and `process.start` actions. It owns no
 * capability: everything goes through `Action.run`, so a core without the process service gets
 * a failed Result ("not registered") and nothing runs. The input shapes and their zod schemas
 * live here so the process service (lib/service) and its callers agree on one contract.
 */
import { z } from 'zod';
import type { Result } from '../result.js';
import type { Action } from './action.js';
import type { CoreError } from './errors.js';

/**
 * Input of `process.run`; the action's value is the child's stdout as text.
 *
 * @example
 * core.action('process.run', handler, { schema: processRunInputSchema });
 */
export const processRunInputSchema = z.object({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
});
export type ProcessRunInput = z.infer<typeof processRunInputSchema>;

/**
 * Input of `process.start`: spawn-like options. Unknown keys pass through to the service,
 * which owns the full spawn option set; the value is `{ id }` of the managed process.
 *
 * @example
 * core.action('process.start', handler, { schema: processStartInputSchema });
 */
export const processStartInputSchema = z.looseObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
  /** Keep running after the core stops (not killed by the process service's shutdown). */
  detach: z.boolean().optional(),
});
export type ProcessStartInput = z.infer<typeof processStartInputSchema>;

/** Value of `process.start`. */
export interface ProcessStartValue {
  readonly id: string;
}

export interface ProcessCallOptions {
  signal?: AbortSignal;
}

/** @internal */
export interface ProcessSugarHost {
  action<I, O>(name: string): Action<I, O>;
}

/**
 * @example
 * const r = await core.process().run('git', 'log', '--oneline');
 * if (r.ok) console.log(r.value);
 */
export class ProcessApi {
  /** @internal Built by `core.process()`. */
  constructor(readonly host: ProcessSugarHost) {}

  /**
   * @example
   * await core.process().run('git', 'status');
   */
  run(command: string, ...args: string[]): Promise<Result<string, CoreError>> {
    return this.#run({ command, args });
  }

  /**
   * @example
   * await core.process().runIn('/repo', 'git', 'log', '-1');
   */
  runIn(dir: string, command: string, ...args: string[]): Promise<Result<string, CoreError>> {
    return this.#run({ command, args, cwd: dir });
  }

  /**
   * @example
   * await core.process().runWithEnv('/repo', { GIT_PAGER: 'cat' }, 'git', 'log');
   */
  runWithEnv(
    dir: string,
    env: Record<string, string>,
    command: string,
    ...args: string[]
  ): Promise<Result<string, CoreError>> {
    return this.#run({ command, args, cwd: dir, env });
  }

  /**
   * @example
   * const r = await core.process().start({ command: 'sleep', args: ['60'] });
   * if (r.ok) console.log('managed as', r.value.id);
   */
  start(
    options: ProcessStartInput,
    call: ProcessCallOptions = {},
  ): Promise<Result<ProcessStartValue, CoreError>> {
    return this.host
      .action<ProcessStartInput, ProcessStartValue>('process.start')
      .run(options, call);
  }

  #run(input: ProcessRunInput): Promise<Result<string, CoreError>> {
    return this.host.action<ProcessRunInput, string>('process.run').run(input);
  }
}
