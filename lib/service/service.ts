/**
 * processService: the capability to run processes and threads, as Core actions. A Core that
 * has not `use`d it cannot run anything: registration is permission. Every process it starts
 * is managed (output ring buffers, line events, snapshots) and, unless started with
 * `detach: true`, stopped with its whole group when the core stops.
 */
import { z } from 'zod';
import { NEVER_ABORTED } from '../core/action.js';
import type { Core } from '../core/core.js';
import { processRunInputSchema, processStartInputSchema } from '../core/process-sugar.js';
import type { Service } from '../core/service.js';
import { ProcessError } from '../process/errors.js';
import type { SpawnOptions } from '../process/options.js';
import { type SignalName, signalNumber } from '../process/signals.js';
import { fail, ok, type Result } from '../result.js';
import { setThreadAffinity } from '../thread/control.js';
import { createThread, type ThreadOptions } from '../thread/create.js';
import type { ThreadHandle, ThreadResult } from '../thread/handle.js';
import { joinThread } from '../thread/join.js';
import { nextId } from './ids.js';
import { type CapturedOutput, ManagedProcess, type ProcessSnapshot } from './managed.js';

export interface ProcessServiceOptions {
  /** Bytes of output kept per stream of each managed process; default 1 MiB. */
  bufferSize?: number;
  /** Signal sent to every managed group on shutdown; default SIGTERM. */
  killSignal?: SignalName;
  /** Milliseconds between killSignal and SIGKILL on shutdown; default 2000. */
  killGrace?: number;
  /** Service start rank; default 10 (starts early, stops late). */
  order?: number;
  /** Exited `process.start` entries kept for process.get/output; oldest go first. Default 1000. */
  retainExited?: number;
}

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
const threadCreateInput = z.object({
  module: z.string().min(1),
  name: z.string().optional(),
  affinity: z.array(z.number().int().nonnegative()).optional(),
  priority: z.unknown().optional(),
  stackSize: z.number().int().positive().optional(),
  detached: z.boolean().optional(),
  data: z.unknown().optional(),
  export: z.string().optional(),
});
const threadJoinInput = z.object({
  id: z.string().min(1),
  timeout: z.number().nonnegative().optional(),
});
const threadAffinityInput = z.object({
  id: z.string().min(1),
  cpus: z.array(z.number().int().nonnegative()),
});

type StartInput = z.infer<typeof processStartInputSchema>;

function notFound(what: string, id: string | number): ProcessError {
  return new ProcessError('NotFound', `${what} ${id}: no such managed ${what}`, { code: 'ESRCH' });
}

/** process.start input (command, plus any spawn option) -> SpawnOptions. */
function spawnOptionsOf(input: StartInput): SpawnOptions {
  const { command, detach: _detach, ...rest } = input;
  return { processGroup: true, ...(rest as Omit<SpawnOptions, 'program'>), program: command };
}

/**
 * @example
 * const core = new Core({ name: 'app' });
 * core.use(processService({ bufferSize: 1 << 20 }));
 * await core.start();
 * const r = await core.action('process.run').run({ command: 'git', args: ['log', '-1'] });
 */
export function processService(options: ProcessServiceOptions = {}): Service {
  const bufferSize = options.bufferSize ?? 1 << 20;
  const killSignal = options.killSignal ?? 'SIGTERM';
  signalNumber(killSignal, 'killSignal');
  const killGrace = options.killGrace ?? 2000;
  const processes = new Map<string, ManagedProcess>();
  const detached = new Set<string>();
  const threads = new Map<string, ThreadHandle>();

  const retainExited = options.retainExited ?? 1000;
  const exitedOrder: string[] = [];

  // process.run children are tracked only while they run (nobody can ask for them by id
  // later); process.start ones stay listed after exit, up to retainExited of them.
  function manage(core: Core, spawnOptions: SpawnOptions, keep: boolean): ManagedProcess {
    const id = nextId('proc');
    const m = new ManagedProcess(
      id,
      spawnOptions,
      bufferSize,
      (e) => core.events.publish(e.topic, e.payload),
      (topic) => core.events.wants(topic),
    );
    processes.set(id, m);
    void m.done.then(() => {
      if (!keep) {
        processes.delete(id);
        return;
      }
      exitedOrder.push(id);
      while (exitedOrder.length > retainExited) processes.delete(exitedOrder.shift() as string);
    });
    return m;
  }

  function find(id: string): ManagedProcess {
    const m = processes.get(id);
    if (!m) throw notFound('process', id);
    return m;
  }

  function register(core: Core): void {
    core.action(
      'process.run',
      async (input, { signal }): Promise<Result<string, ProcessError>> => {
        const m = manage(
          core,
          {
            program: input.command,
            args: input.args,
            cwd: input.cwd,
            env: input.env,
            stdin: 'null',
            // Listening on an AbortSignal is not free; skip the one that can never fire.
            ...(signal === NEVER_ABORTED ? {} : { signal }),
          },
          false,
        );
        const status = await m.done;
        const out = m.output();
        if (status !== null && status.code === 0) return ok(out.stdout);
        const why = status?.signal
          ? `was killed by ${status.signal}`
          : `exited with code ${status?.code}`;
        return fail(
          new ProcessError(
            status?.signal ? 'TerminatedBySignal' : 'NonZeroExit',
            `${input.command} ${why}`,
            {
              code: status?.signal ?? status?.code ?? undefined,
              status: status ?? undefined,
              stdout: out.stdout,
              stderr: out.stderr,
              command: input.command,
            },
          ),
        );
      },
      {
        description: 'Run a command to completion; the value is its stdout',
        schema: processRunInputSchema,
      },
    );

    core.action(
      'process.start',
      (input: StartInput) => {
        const m = manage(core, spawnOptionsOf(input), true);
        if (input.detach === true) detached.add(m.id);
        return { id: m.id };
      },
      {
        description: 'Start a managed process; the value is { id }',
        schema: processStartInputSchema,
      },
    );

    core.action(
      'process.kill',
      (input: z.infer<typeof killInput>) => {
        const signal = (input.signal ?? 'SIGTERM') as SignalName;
        signalNumber(signal, 'signal');
        const m =
          input.id !== undefined
            ? find(input.id)
            : [...processes.values()].find(
                (p) => p.handle?.pid === input.pid && p.status === 'running',
              );
        if (!m) throw notFound('process', input.pid ?? '?');
        return { id: m.id, sent: m.kill(signal, m.leadsGroup) };
      },
      {
        description: 'Signal a managed process (its group when it leads one) by id or pid',
        schema: killInput,
      },
    );

    core.action(
      'process.list',
      (): ProcessSnapshot[] => [...processes.values()].map((m) => m.snapshot()),
      {
        description: 'Snapshots of every managed process',
      },
    );

    core.action('process.get', (input: z.infer<typeof idInput>) => find(input.id).snapshot(), {
      description: 'Snapshot of one managed process',
      schema: idInput,
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
      { description: 'Write to a managed process’s stdin, or close it', schema: inputInput },
    );

    core.action(
      'process.output',
      (input: z.infer<typeof idInput>): CapturedOutput => find(input.id).output(),
      {
        description: 'Captured output of a managed process (newest bytes, ring buffered)',
        schema: idInput,
      },
    );

    core.action(
      'thread.create',
      async (input: z.infer<typeof threadCreateInput>) => {
        const { module, ...rest } = input;
        const t = await createThread(module, rest as ThreadOptions);
        const id = nextId('thread');
        threads.set(id, t);
        core.events.publish('thread.started', { id, tid: t.tid, name: t.name });
        void t.exited.then((r) =>
          core.events.publish('thread.exited', {
            id,
            tid: t.tid,
            exitCode: r.exitCode,
            error: r.error?.message,
          }),
        );
        return { id, tid: t.tid };
      },
      { description: 'Create a pinned, prioritised worker thread', schema: threadCreateInput },
    );

    core.action(
      'thread.join',
      async (input: z.infer<typeof threadJoinInput>): Promise<ThreadResult> => {
        const t = threads.get(input.id);
        if (!t) throw notFound('thread', input.id);
        return joinThread(t, input.timeout === undefined ? undefined : { timeout: input.timeout });
      },
      { description: 'Join a thread (optional timeout, ms)', schema: threadJoinInput },
    );

    core.action(
      'thread.affinity',
      (input: z.infer<typeof threadAffinityInput>) => {
        const t = threads.get(input.id);
        if (!t) throw notFound('thread', input.id);
        setThreadAffinity(t, input.cpus);
        return { id: input.id, cpus: input.cpus };
      },
      { description: 'Pin a running thread to CPUs', schema: threadAffinityInput },
    );
  }

  // Every managed group gets killSignal, then SIGKILL after the grace, and we wait for every
  // exit; the core's stop timeout (signal) bounds all of it.
  async function shutdown(signal: AbortSignal): Promise<void> {
    const live = [...processes.values()].filter(
      (m) => m.status === 'running' && !detached.has(m.id),
    );
    for (const m of live) m.kill(killSignal, m.leadsGroup);
    const escalate = setTimeout(() => {
      for (const m of live) if (m.status === 'running') m.kill('SIGKILL', m.leadsGroup);
    }, killGrace);
    const onAbort = () => {
      for (const m of live) if (m.status === 'running') m.kill('SIGKILL', true);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.all([
        ...live.map((m) => m.done),
        ...[...threads.values()].filter((t) => t.running).map((t) => t.worker.terminate()),
      ]);
    } finally {
      clearTimeout(escalate);
      signal.removeEventListener('abort', onAbort);
    }
  }

  return {
    name: 'process',
    order: options.order ?? 10,
    onStartup: register,
    onShutdown: (_core, { signal }) => shutdown(signal),
  };
}
