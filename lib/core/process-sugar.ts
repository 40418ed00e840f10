/**
 * `core.process()`: typed sugar over the `process.run` and `process.start` actions. It owns no
 * capability: everything goes through `Action.run`, so a core without the process service gets
 * a failed Result ("not registered") and nothing runs. The input shapes and their zod schemas
 * live here so the process service (lib/service) and its callers agree on one contract.
 */
import { z } from 'zod';
import { nearestKey } from '../process/keys.js';
import { SPAWN_OPTION_KEYS } from '../process/option-keys.js';
import type { SpawnOptions } from '../process/options.js';
import type { Result } from '../result.js';
import type { Action } from './action.js';
import type { CoreError } from './errors.js';

/** `sandbox` of a spawn (lib/process/sandbox.ts validates the values in depth). */
export const sandboxInputSchema = z.strictObject({
  noNewPrivileges: z.boolean().optional(),
  network: z.enum(['none', 'loopback', 'host']).optional(),
  filesystem: z
    .strictObject({ write: z.array(z.string()), read: z.array(z.string()).optional() })
    .optional(),
  syscalls: z
    .union([z.literal('default'), z.strictObject({ deny: z.array(z.string()) })])
    .optional(),
  newSession: z.boolean().optional(),
  privateTmp: z.boolean().optional(),
  pidNamespace: z.boolean().optional(),
});

/** `limits` of a spawn (lib/process/limits.ts). */
export const limitsInputSchema = z.strictObject({
  memoryBytes: z.int().positive().optional(),
  pids: z.int().positive().optional(),
  cpu: z
    .union([
      z.strictObject({ quotaUs: z.int().positive(), periodUs: z.int().positive().optional() }),
      z.strictObject({ percent: z.number().positive() }),
    ])
    .optional(),
});

// An unknown key is refused naming the nearest known one: the schemas used to strip them,
// so a typo'd `sandbx` ran the child unconfined without a word. Strict objects (rather than a
// refinement) keep the schema eligible for the validator's fast path.
function unknownKeyError(known: ReadonlySet<string>) {
  return (issue: { code?: string; keys?: string[] }): string | undefined => {
    if (issue.code !== 'unrecognized_keys' || issue.keys === undefined) return undefined;
    const key = issue.keys[0] ?? '';
    const near = nearestKey(key, known);
    return `unknown option ${JSON.stringify(key)}${near === undefined ? '' : ` (did you mean '${near}'?)`}`;
  };
}

const RUN_KEYS: ReadonlySet<string> = new Set([
  'command',
  'args',
  'cwd',
  'env',
  'sandbox',
  'limits',
]);

/**
 * Input of `process.run`; the action's value is the child's stdout as text.
 *
 * @example
 * core.action('process.run', handler, { schema: processRunInputSchema });
 */
export const processRunInputSchema = z.strictObject(
  {
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    cwd: z.string().min(1).optional(),
    env: z.record(z.string(), z.string()).optional(),
    sandbox: sandboxInputSchema.optional(),
    limits: limitsInputSchema.optional(),
  },
  { error: unknownKeyError(RUN_KEYS) },
);
export type ProcessRunInput = z.infer<typeof processRunInputSchema>;

// process.start takes every spawn option but `program` (it is `command` here).
const START_KEYS: ReadonlySet<string> = new Set([
  ...[...SPAWN_OPTION_KEYS].filter((k) => k !== 'program'),
  'command',
  'detach',
]);

/**
 * Input of `process.start`: spawn-like options, passed through to the service, which owns
 * the full spawn option set; a key that is no spawn option is refused naming the nearest
 * one. The value is `{ id }` of the managed process.
 *
 * @example
 * core.action('process.start', handler, { schema: processStartInputSchema });
 */
export const processStartInputSchema = z.strictObject(
  {
    // Every other spawn option passes through as is; spawn() validates it in depth.
    ...Object.fromEntries([...START_KEYS].map((k) => [k, z.unknown().optional()])),
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    cwd: z.string().min(1).optional(),
    env: z.record(z.string(), z.string()).optional(),
    /** Keep running after the core stops (not killed by the process service's shutdown). */
    detach: z.boolean().optional(),
    sandbox: sandboxInputSchema.optional(),
    limits: limitsInputSchema.optional(),
  },
  { error: unknownKeyError(START_KEYS) },
);
export type ProcessStartInput = z.infer<typeof processStartInputSchema> &
  Omit<SpawnOptions, 'program' | 'args' | 'cwd' | 'env' | 'sandbox' | 'limits'>;

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
