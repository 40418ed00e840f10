/**
 * processService: the capability to run processes and threads, as Core actions. A Core that
 * has not `use`d it cannot run anything: registration is permission. Every process it starts
 * is managed (output ring buffers, line events, snapshots), passes the security policy when
 * one is given, is audited when an audit trail is configured, and, unless started with
 * `detach: true`, is stopped with its whole group when the core stops.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { type ActionContext, NEVER_ABORTED } from '../core/action.js';
import type { Core } from '../core/core.js';
import type { EntitlementChecker } from '../core/entitlement.js';
import { processRunInputSchema, processStartInputSchema } from '../core/process-sugar.js';
import type { Service } from '../core/service.js';
import type { Supervisor } from '../daemon/supervisor.js';
import { ProcessError } from '../errors.js';
import { loadSubscribers } from '../events/config.js';
import type { Actor } from '../events/envelope.js';
import type { Subscriber } from '../events/subscriber.js';
import type { SpawnOptions } from '../process/options.js';
import { type SignalName, signalNumber } from '../process/signals.js';
import type { ExitStatus } from '../process/status.js';
import { fail, ok, type Result } from '../result.js';
import type { ThreadHandle } from '../thread/handle.js';
import { AuditTrail } from './audit.js';
import { registerDaemonActions } from './daemons.js';
import { nextId } from './ids.js';
import { type CapturedOutput, ManagedProcess, type ProcessSnapshot } from './managed.js';
import { registerPipelineAction } from './pipeline.js';
import { compilePolicy, type PolicyGate, type ProcessPolicy, refusal } from './policy.js';
import { registerSystemAction } from './system.js';
import { registerThreadActions } from './threads.js';
import { resolveProgram } from './which.js';

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
  /** Allow list and ceilings, verified at startup (a contradiction fails `core.start()`). */
  policy?: ProcessPolicy;
  /**
   * Audit trail: one envelope per spawn, signal, exit and denial. `subscribers` given: those;
   * else the `events:` block of `<root>/core-process.yaml` (root defaults to the cwd).
   */
  audit?: { subscribers?: Subscriber[]; root?: string };
}

/** The service object: a Service plus what its owner may want to inspect or install. */
export interface ProcessService extends Service {
  /**
   * Entitlement checker over the policy's `maxProcesses` (quantity = processes), for
   * `core.setEntitlementChecker`, so `core.entitled('process.start')` tells remaining capacity.
   */
  readonly entitlements: EntitlementChecker;
  /** The audit trail once started with `audit`; null otherwise. */
  readonly audit: AuditTrail | null;
  /** Managed processes running now. */
  running(): number;
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
type StartInput = z.infer<typeof processStartInputSchema>;

const SPAWNING = new Set(['process.run', 'process.start', 'process.pipeline']);
const ACTOR_KINDS = new Set(['user', 'service', 'system', 'agent']);

// Who asked: `run(input, { context: { actor: { kind, id } } })`, else the service itself.
function actorOf(ctx: ActionContext | null, fallback: Actor): Actor {
  const a = ctx?.context.actor as { kind?: unknown; id?: unknown } | undefined;
  if (a && typeof a.id === 'string' && a.id.length > 0 && ACTOR_KINDS.has(a.kind as string)) {
    return { kind: a.kind as Actor['kind'], id: a.id };
  }
  return fallback;
}

function exitPayload(id: string, status: ExitStatus): Record<string, unknown> {
  return {
    id,
    pid: status.pid,
    code: status.code,
    signal: status.signal,
    coreDumped: status.coreDumped,
    durationMs: status.durationMs,
    rusage: { ...status.rusage },
  };
}

// What the audit keeps of a spawn request: the program as run and every attribute that
// changes what the child may do.
function spawnPayload(id: string, o: SpawnOptions, h: ManagedProcess): Record<string, unknown> {
  const cwd = o.cwd ?? process.cwd();
  const env = o.clearEnv ? (o.env ?? {}) : { ...process.env, ...o.env };
  const out: Record<string, unknown> = {
    id,
    program: o.program,
    // The file the kernel was asked to run (already absolute when a policy resolved it).
    path: o.program.startsWith('/') ? o.program : resolveProgram(o.program, env.PATH, cwd),
    args: [...(o.args ?? [])],
    cwd: h.cwd,
    pid: h.handle?.pid ?? null,
    pgid: h.snapshot().pgid,
  };
  for (const key of ['affinity', 'scheduler', 'nice', 'rlimits', 'uid', 'gid'] as const) {
    if (o[key] !== undefined) out[key] = o[key];
  }
  if (o.inheritScheduling === true) out.inheritScheduling = true;
  return out;
}

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
export function processService(options: ProcessServiceOptions = {}): ProcessService {
  const bufferSize = options.bufferSize ?? 1 << 20;
  const killSignal = options.killSignal ?? 'SIGTERM';
  signalNumber(killSignal, 'killSignal');
  const killGrace = options.killGrace ?? 2000;
  const processes = new Map<string, ManagedProcess>();
  const detached = new Set<string>();
  const threads = new Map<string, ThreadHandle>();
  const daemons = new Map<string, Supervisor>();
  const daemonOwned = new Set<string>();

  const retainExited = options.retainExited ?? 1000;
  const exitedOrder: string[] = [];
  let running = 0;
  let gate: PolicyGate | null = null;
  let audit: AuditTrail | null = null;
  let self: Actor = { kind: 'service', id: 'process' };

  // A refusal is published on the bus and audited before the caller hears of it.
  function denied(
    ctx: ActionContext | null,
    error: ProcessError,
    subject: Record<string, unknown>,
  ) {
    const action = ctx?.action ?? 'process';
    const actor = actorOf(ctx, self);
    ctx?.core.events.publish('security.denied', {
      core: ctx.core.name,
      action,
      reason: error.message,
      field: error.field,
      actor,
    });
    const program = typeof subject.program === 'string' ? subject.program : '';
    audit?.record(
      'process.denied',
      { action, reason: error.message, field: error.field ?? null, request: subject },
      { actor, artifact: { type: 'request', id: action, path: program } },
    );
  }

  // Every child of the service starts here: policy, then spawn, then audit. process.run
  // children are tracked only while they run (nobody can ask for them by id later);
  // process.start and pipeline ones stay listed after exit, up to retainExited of them.
  function manage(
    core: Core,
    requested: SpawnOptions,
    keep: boolean,
    ctx: ActionContext | null,
  ): ManagedProcess {
    let spawnOptions = requested;
    if (gate !== null) {
      try {
        spawnOptions = gate.admitSpawn(requested, running);
      } catch (e) {
        if (!(e instanceof ProcessError) || e.kind !== 'PermissionDenied') throw e;
        denied(ctx, e, { program: requested.program, args: [...(requested.args ?? [])] });
        throw refusal(ctx?.action ?? 'process', e);
      }
    }
    const id = nextId('proc');
    const actor = audit === null ? self : actorOf(ctx, self);
    let m: ManagedProcess;
    try {
      m = new ManagedProcess(
        id,
        spawnOptions,
        bufferSize,
        (e) => core.events.publish(e.topic, e.payload),
        (topic) => core.events.wants(topic),
      );
    } catch (e) {
      audit?.record(
        'process.spawn-failed',
        {
          id,
          program: spawnOptions.program,
          args: [...(spawnOptions.args ?? [])],
          error: e instanceof Error ? e.message : String(e),
          code: e instanceof ProcessError ? (e.code ?? null) : null,
        },
        { actor, artifact: { id, path: spawnOptions.program } },
      );
      throw e;
    }
    running++;
    processes.set(id, m);
    const artifact = { id, path: spawnOptions.program };
    audit?.record('process.spawned', spawnPayload(id, spawnOptions, m), { actor, artifact });
    void m.done.then((status) => {
      running--;
      if (status !== null) audit?.record('process.exited', exitPayload(id, status), { artifact });
      if (!keep) {
        processes.delete(id);
        return;
      }
      exitedOrder.push(id);
      while (exitedOrder.length > retainExited) processes.delete(exitedOrder.shift() as string);
    });
    return m;
  }

  // Signals through the managed process, audited with who sent them.
  function sendSignal(
    m: ManagedProcess,
    sig: SignalName,
    group: boolean,
    actor: Actor,
    why: string,
  ): boolean {
    const sent = m.kill(sig, group);
    audit?.record(
      'process.signalled',
      {
        id: m.id,
        pid: m.handle?.pid ?? null,
        pgid: m.snapshot().pgid,
        group,
        signal: sig,
        sent,
        reason: why,
      },
      { actor, artifact: { id: m.id, path: m.command } },
    );
    return sent;
  }

  function find(id: string): ManagedProcess {
    const m = processes.get(id);
    if (!m) throw notFound('process', id);
    return m;
  }

  function register(core: Core): void {
    core.action(
      'process.run',
      async (input, ctx): Promise<Result<string, ProcessError>> => {
        const { signal } = ctx;
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
          ctx,
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
      (input: StartInput, ctx) => {
        const m = manage(core, spawnOptionsOf(input), true, ctx);
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
      (input: z.infer<typeof killInput>, ctx) => {
        const signal = (input.signal ?? 'SIGTERM') as SignalName;
        signalNumber(signal, 'signal');
        const m =
          input.id !== undefined
            ? find(input.id)
            : [...processes.values()].find(
                (p) => p.handle?.pid === input.pid && p.status === 'running',
              );
        if (!m) throw notFound('process', input.pid ?? '?');
        const by = actorOf(ctx, self);
        return { id: m.id, sent: sendSignal(m, signal, m.leadsGroup, by, 'process.kill') };
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

    registerThreadActions(core, { threads, gate, denied });
    const managedSpawn = (spawnOptions: SpawnOptions, ctx: ActionContext) => {
      const m = manage(core, spawnOptions, true, ctx);
      return m.handle as NonNullable<typeof m.handle>;
    };
    registerPipelineAction(core, managedSpawn);
    registerSystemAction(
      core,
      () => processes.values(),
      () => threads,
    );
    registerDaemonActions(core, {
      daemons,
      start: (spawnOptions, ctx) => {
        const m = manage(core, spawnOptions, true, ctx);
        daemonOwned.add(m.id);
        void m.done.then(() => daemonOwned.delete(m.id));
        return m.handle as NonNullable<typeof m.handle>;
      },
      emit: (topic, payload) => {
        core.events.publish(topic, payload);
        audit?.record(topic, payload, { artifact: { type: 'daemon', id: String(payload.name) } });
      },
    });
  }

  // Every managed group gets killSignal, then SIGKILL after the grace, and we wait for every
  // exit; the core's stop timeout (signal) bounds all of it. The audit trail is flushed last,
  // so the exits are in it.
  async function shutdown(signal: AbortSignal): Promise<void> {
    // Supervisors stop their own children (their stop signal and grace) and restart nothing;
    // this starts at once, before the first await of each stop().
    const supervised = [...daemons.values()].map((d) => d.stop());
    const live = [...processes.values()].filter(
      (m) => m.status === 'running' && !detached.has(m.id) && !daemonOwned.has(m.id),
    );
    const stop = (m: ManagedProcess, sig: SignalName, group: boolean) =>
      sendSignal(m, sig, group, self, 'shutdown');
    for (const m of live) stop(m, killSignal, m.leadsGroup);
    // Whatever is left of a tree after the grace gets SIGKILL, leader or not: a member that
    // ignores the signal its leader died of would otherwise outlive the core.
    const escalate = setTimeout(() => {
      for (const m of live) if (m.treeAlive()) stop(m, 'SIGKILL', m.leadsGroup);
    }, killGrace);
    const onAbort = () => {
      for (const m of processes.values()) {
        if (!detached.has(m.id) && m.treeAlive()) stop(m, 'SIGKILL', true);
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.all([
        ...supervised,
        ...live.map((m) => m.done),
        ...[...threads.values()].filter((t) => t.running).map((t) => t.worker.terminate()),
      ]);
      // Done when every tree is empty, not only when every leader has exited.
      while (!signal.aborted && live.some((m) => m.treeAlive())) await sleep(20);
      // A descendant that outlived its managed process may still hold its output pipes.
      for (const m of processes.values()) if (!detached.has(m.id)) m.release();
      await audit?.flush();
    } finally {
      clearTimeout(escalate);
      signal.removeEventListener('abort', onAbort);
    }
  }

  async function startup(core: Core): Promise<void> {
    self = { kind: 'service', id: `${core.name}/process` };
    if (options.policy !== undefined) gate = compilePolicy(options.policy);
    if (options.audit !== undefined) {
      const subscribers =
        options.audit.subscribers ?? (await loadSubscribers(options.audit.root ?? process.cwd()));
      audit = new AuditTrail(subscribers, self, {
        onFailure: (subscriber, error, event) => {
          core.logger.warn('audit delivery failed', { subscriber, event, error });
          core.events.publish('audit.failed', { subscriber, event, error: error.message });
        },
      });
    }
    register(core);
  }

  const max = options.policy?.maxProcesses;
  return {
    name: 'process',
    order: options.order ?? 10,
    onStartup: startup,
    onShutdown: (_core, { signal }) => shutdown(signal),
    entitlements: (action, quantity) => {
      if (max === undefined || !SPAWNING.has(action)) return { allowed: true, unlimited: true };
      return {
        allowed: running + quantity <= max,
        limit: max,
        used: running,
        reason: `maxProcesses ${max}: ${running} managed processes running`,
      };
    },
    get audit() {
      return audit;
    },
    running: () => running,
  };
}
