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
import { CoreError } from './errors.js';
import { ProcessHandle } from './process-handle.js';
import { ok } from './result.js';

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
  'dir',
  'cwd',
  'env',
  'output',
  'timeout',
  'sandbox',
  'limits',
]);

/**
 * `env` as the seed has it (000 §3, 001 §17.6: a list of `K=V` added to the inherited
 * environment), or as an object of overrides (ours, kept: it cannot get the `=` wrong).
 */
export const envInputSchema = z.union([
  z.array(z.string().regex(/^[^=\0]+=[^\0]*$/, "must be 'NAME=value'")),
  z.record(z.string(), z.string()),
]);
export type EnvInput = z.infer<typeof envInputSchema>;

/**
 * `K=V` list or object -> the object spawn() merges over the inherited environment.
 *
 * @example
 * envRecord(['GOWORK=off', 'A=b=c']); // { GOWORK: 'off', A: 'b=c' }
 */
export function envRecord(env: EnvInput | undefined): Record<string, string> | undefined {
  if (env === undefined || !Array.isArray(env)) return env;
  const out: Record<string, string> = {};
  for (const kv of env) {
    const eq = kv.indexOf('=');
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/**
 * Input of `process.run`. As seed 000 §3 has it: `command, args, dir, env` (env a `K=V` list),
 * and the value is the combined output, stdout and stderr in the order the child wrote them
 * (both are one pipe, as Go's CombinedOutput). Ours besides: `cwd` (the same as `dir`), env as
 * an object, `timeout` (ms; the seed's ctx deadline, like the AbortSignal of `run()`),
 * `output: 'separate'` for `{ stdout, stderr }` instead, `sandbox`, `limits`.
 *
 * @example
 * core.action('process.run', handler, { schema: processRunInputSchema });
 */
export const processRunInputSchema = z.strictObject(
  {
    command: z.string().min(1),
    args: z.array(z.string()).optional(),
    dir: z.string().min(1).optional(),
    cwd: z.string().min(1).optional(),
    env: envInputSchema.optional(),
    output: z.enum(['combined', 'separate']).optional(),
    timeout: z.number().int().positive().max(0x7fffffff).optional(),
    sandbox: sandboxInputSchema.optional(),
    limits: limitsInputSchema.optional(),
  },
  { error: unknownKeyError(RUN_KEYS) },
);
export type ProcessRunInput = z.infer<typeof processRunInputSchema>;

/** `process.run` with `output: 'separate'`. */
export interface ProcessRunSeparate {
  readonly stdout: string;
  readonly stderr: string;
}

// process.start takes every spawn option but `program` (it is `command` here).
const START_KEYS: ReadonlySet<string> = new Set([
  ...[...SPAWN_OPTION_KEYS].filter((k) => k !== 'program'),
  'command',
  'dir',
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
    /** The seed's name for `cwd` (000 §3, 001 §17.4). */
    dir: z.string().min(1).optional(),
    cwd: z.string().min(1).optional(),
    env: envInputSchema.optional(),
    /** Keep running after the core stops (not killed by the process service's shutdown). */
    detach: z.boolean().optional(),
    sandbox: sandboxInputSchema.optional(),
    limits: limitsInputSchema.optional(),
  },
  { error: unknownKeyError(START_KEYS) },
);
export type ProcessStartInput = z.infer<typeof processStartInputSchema> &
  Omit<SpawnOptions, 'program' | 'args' | 'cwd' | 'env' | 'sandbox' | 'limits'>;

/**
 * `dir` or `cwd` (one of them: both given and different is a contradiction, not a choice).
 *
 * @example
 * dirOf({ dir: '/repo' }, 'process.run'); // '/repo'
 */
export function dirOf(input: { dir?: string; cwd?: string }, action: string): string | undefined {
  if (input.dir !== undefined && input.cwd !== undefined && input.dir !== input.cwd) {
    throw new CoreError(
      'InvalidInput',
      `action ${action}: invalid input at dir: give dir or cwd, not both (${JSON.stringify(input.dir).slice(0, 80)} vs ${JSON.stringify(input.cwd).slice(0, 80)})`,
      { action, field: 'dir' },
    );
  }
  return input.dir ?? input.cwd;
}

/** Value of the `process.start` action. */
export interface ProcessStartValue {
  readonly id: string;
  readonly pid: number | null;
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
    return this.#run({ command, args, dir });
  }

  /**
   * @example
   * await core.process().runWithEnv('/repo', ['GOWORK=off'], 'go', 'test');
   * await core.process().runWithEnv('/repo', { GIT_PAGER: 'cat' }, 'git', 'log');
   */
  runWithEnv(
    dir: string,
    env: EnvInput,
    command: string,
    ...args: string[]
  ): Promise<Result<string, CoreError>> {
    return this.#run({ command, args, dir, env });
  }

  /**
   * Starts a managed process through `process.start` and answers its ProcessHandle (seed 001
   * §17.4-5); the action itself answers `{ id, pid }`.
   *
   * @example
   * const r = await core.process().start({ command: 'sleep', args: ['60'], dir: '/tmp' });
   * if (r.ok) { const h = r.value; h.isRunning(); h.kill(); await h.done; }
   */
  async start(
    options: ProcessStartInput,
    call: ProcessCallOptions = {},
  ): Promise<Result<ProcessHandle, CoreError>> {
    const r = await this.host
      .action<ProcessStartInput, ProcessStartValue>('process.start')
      .run(options, call);
    if (!r.ok) return r;
    const first = await this.host
      .action<{ id: string }, ConstructorParameters<typeof ProcessHandle>[1]>('process.get')
      .run({ id: r.value.id });
    const snapshot = first.ok
      ? first.value
      : {
          id: r.value.id,
          pid: r.value.pid,
          command: options.command,
          status: 'running',
          exitCode: null,
          signal: null,
          durationMs: null,
          startedAt: new Date().toISOString(),
        };
    return ok(new ProcessHandle(this.host, snapshot));
  }

  #run(input: ProcessRunInput): Promise<Result<string, CoreError>> {
    return this.host.action<ProcessRunInput, string>('process.run').run(input);
  }
}
