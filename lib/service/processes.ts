/**
 * The process.* actions of the process service: run, start, kill, list, get, wait, input and
 * output over the service's managed processes. Spawning and signalling go through the host, so
 * the policy and the audit trail apply to every one of them.
 */
import { z } from 'zod';
import { type ActionContext, NEVER_ABORTED } from '../core/action.js';
import type { Core } from '../core/core.js';
import {
  dirOf,
  envRecord,
  type ProcessRunSeparate,
  processRunInputSchema,
  processStartInputSchema,
} from '../core/process-sugar.js';
import { ProcessError } from '../errors.js';
import type { SpawnOptions } from '../process/options.js';
import { crashSafeDefaults } from '../process/orphans.js';
import { type SignalName, signalNumber } from '../process/signals.js';
import type { ExitStatus } from '../process/status.js';
import { fail, ok, type Result } from '../result.js';
import type { CapturedOutput, ManagedProcess, ProcessSnapshot } from './managed.js';
import {
  capturedOutputSchema,
  processIdValueSchema,
  processKillValueSchema,
  processRunValueSchema,
  processSnapshotSchema,
  processStartValueSchema,
} from './schemas.js';

const idInput = z.object({ id: z.string().min(1) });
const killInput = z
  .object({
    id: z.string().min(1).optional(),
    pid: z.number().int().positive().optional(),
    signal: z.string().optional(),
  })
  .refine((v) => v.id !== undefined || v.pid !== undefined, { message: 'give id or pid' });
const waitInput = z.object({ id: z.string().min(1), timeout: z.number().nonnegative().optional() });
const inputInput = z.object({
  id: z.string().min(1),
  data: z.string().optional(),
  close: z.boolean().optional(),
});
type StartInput = z.infer<typeof processStartInputSchema>;

/** What the process actions need from the service around them. */
export interface ProcessActionHost {
  /** Managed processes by id: running ones, and exited `process.start` ones still retained. */
  readonly processes: ReadonlyMap<string, ManagedProcess>;
  /** Ids started with `detach: true`: shutdown leaves them running. */
  readonly detached: Set<string>;
  /**
   * The service's policy-checked, managed, audited spawner. `keep`: listed after exit (until
   * retainExited), rather than forgotten once it exits.
   */
  manage(options: SpawnOptions, keep: boolean, ctx: ActionContext): ManagedProcess;
  /** Sends a signal through the managed process and audits it as sent by the caller. */
  signal(m: ManagedProcess, sig: SignalName, group: boolean, ctx: ActionContext): boolean;
}

/**
 * @example
 * throw notFound('process', 'proc-7'); // ProcessError NotFound, code ESRCH
 */
export function notFound(what: string, id: string | number): ProcessError {
  return new ProcessError('NotFound', `${what} ${id}: no such managed ${what}`, { code: 'ESRCH' });
}

/**
 * process.start input (command, plus any spawn option) -> SpawnOptions. A process that is not
 * detached stops with the core, a crash of the core included: it dies with us, and its tree
 * is in a cgroup the next start removes (explicit options win).
 */
function spawnOptionsOf(input: StartInput, cwd: string | undefined): SpawnOptions {
  const { command, detach, dir: _dir, env, ...rest } = input;
  return {
    processGroup: true,
    ...(detach === true ? {} : crashSafeDefaults()),
    ...(rest as Omit<SpawnOptions, 'program'>),
    ...(cwd === undefined ? {} : { cwd }),
    ...(env === undefined ? {} : { env: envRecord(env) }),
    program: command,
  };
}

// A run that did not exit 0: its kind, status and output (the combined text as `all`).
function runFailure(
  command: string,
  status: ExitStatus | null,
  out: CapturedOutput,
  separate: boolean,
  timedOut: boolean,
  timeout: number | undefined,
): ProcessError {
  const why = timedOut
    ? `timed out after ${timeout} ms (killed by ${status?.signal})`
    : status?.signal
      ? `was killed by ${status.signal}`
      : `exited with code ${status?.code}`;
  const kind = timedOut ? 'TimedOut' : status?.signal ? 'TerminatedBySignal' : 'NonZeroExit';
  return new ProcessError(kind, `${command} ${why}`, {
    code: status?.signal ?? status?.code ?? undefined,
    status: status ?? undefined,
    ...(separate ? { stdout: out.stdout, stderr: out.stderr } : { all: out.stdout }),
    command,
  });
}

/**
 * Registers process.run, process.start, process.kill, process.list, process.get, process.wait,
 * process.input and process.output on `core`.
 *
 * @example
 * registerProcessActions(core, { processes, detached, manage, signal });
 * const { id } = await core.action('process.start').run({ command: 'sleep', args: ['5'] });
 */
export function registerProcessActions(core: Core, host: ProcessActionHost): void {
  const find = (id: string): ManagedProcess => {
    const m = host.processes.get(id);
    if (!m) throw notFound('process', id);
    return m;
  };

  core.action(
    'process.run',
    async (input, ctx): Promise<Result<string | ProcessRunSeparate, ProcessError>> => {
      const { signal } = ctx;
      const separate = input.output === 'separate';
      const m = host.manage(
        {
          program: input.command,
          args: input.args,
          cwd: dirOf(input, 'process.run'),
          env: envRecord(input.env),
          ...(input.sandbox === undefined ? {} : { sandbox: input.sandbox }),
          ...(input.limits === undefined ? {} : { limits: input.limits }),
          ...(input.timeout === undefined ? {} : { timeout: input.timeout }),
          stdin: 'null',
          // The seed's value is CombinedOutput: one pipe for both, so the order is the child's.
          ...(separate ? {} : { stderr: 'stdout' as const }),
          // Dies with the core; a run is short, so no cgroup (and its mkdir) per call.
          dieWithParent: true,
          // Listening on an AbortSignal is not free; skip the one that can never fire.
          ...(signal === NEVER_ABORTED ? {} : { signal }),
        },
        false,
        ctx,
      );
      const status = await m.done;
      const out = m.output();
      if (status !== null && status.code === 0) {
        return ok(separate ? { stdout: out.stdout, stderr: out.stderr } : out.stdout);
      }
      return fail(
        runFailure(
          input.command,
          status,
          out,
          separate,
          m.handle?.timedOut === true,
          input.timeout,
        ),
      );
    },
    {
      description:
        "Run a command to completion; the value is its combined output (stdout and stderr as written), or { stdout, stderr } with output: 'separate'",
      schema: processRunInputSchema,
      output: processRunValueSchema,
    },
  );

  core.action(
    'process.start',
    (input: StartInput, ctx) => {
      const m = host.manage(spawnOptionsOf(input, dirOf(input, 'process.start')), true, ctx);
      if (input.detach === true) host.detached.add(m.id);
      return { id: m.id, pid: m.handle?.pid ?? null };
    },
    {
      description: 'Start a managed process; the value is { id, pid }',
      schema: processStartInputSchema,
      output: processStartValueSchema,
    },
  );

  core.action(
    'process.kill',
    (input: z.infer<typeof killInput>, ctx) => {
      const signal = (input.signal ?? 'SIGTERM') as SignalName;
      signalNumber(signal, 'signal');
      const m =
        input.id !== undefined
          ? find(input.id)
          : [...host.processes.values()].find(
              (p) => p.handle?.pid === input.pid && p.status === 'running',
            );
      if (!m) throw notFound('process', input.pid ?? '?');
      return { id: m.id, sent: host.signal(m, signal, m.leadsGroup, ctx) };
    },
    {
      description: 'Signal a managed process (its group when it leads one) by id or pid',
      schema: killInput,
      output: processKillValueSchema,
    },
  );

  core.action(
    'process.list',
    (): ProcessSnapshot[] => [...host.processes.values()].map((m) => m.snapshot()),
    {
      description: 'Snapshots of every managed process',
      output: z.array(processSnapshotSchema),
    },
  );

  core.action('process.get', (input: z.infer<typeof idInput>) => find(input.id).snapshot(), {
    description: 'Snapshot of one managed process',
    schema: idInput,
    output: processSnapshotSchema,
  });

  core.action(
    'process.wait',
    async (input: z.infer<typeof waitInput>) => {
      const m = find(input.id);
      const h = m.handle;
      if (h !== null)
        await h.wait(input.timeout === undefined ? undefined : { timeout: input.timeout });
      await m.done;
      return m.snapshot();
    },
    {
      description: 'Wait for a managed process to exit (optional timeout, ms)',
      schema: waitInput,
      output: processSnapshotSchema,
    },
  );

  core.action(
    'process.input',
    async (input: z.infer<typeof inputInput>) => {
      const m = find(input.id);
      if (input.data !== undefined) await m.input(input.data);
      if (input.close === true) await m.input(null);
      return { id: m.id };
    },
    {
      description: 'Write to a managed process’s stdin, or close it',
      schema: inputInput,
      output: processIdValueSchema,
    },
  );

  core.action(
    'process.output',
    (input: z.infer<typeof idInput>): CapturedOutput => find(input.id).output(),
    {
      description: 'Captured output of a managed process (newest bytes, ring buffered)',
      schema: idInput,
      output: capturedOutputSchema,
    },
  );
}
