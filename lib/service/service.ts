/**
 * processService: the capability to run processes and threads, as Core actions. A Core that
 * has not `use`d it cannot run anything: registration is permission. Every process it starts
 * is managed (output ring buffers, line events, snapshots), passes the security policy when
 * one is given, is audited when an audit trail is configured, and, unless started with
 * `detach: true`, is stopped with its whole group when the core stops. The actions of each
 * family live beside it (processes.ts, threads.ts, daemons.ts, pipeline.ts, system.ts), and so
 * does the shutdown (shutdown.ts); this file owns the spawner, signalling and audit they share.
 */
import type { ActionContext } from '../core/action.js';
import type { Core } from '../core/core.js';
import type { EntitlementChecker } from '../core/entitlement.js';
import type { Service } from '../core/service.js';
import type { Supervisor } from '../daemon/supervisor.js';
import { ProcessError } from '../errors.js';
import { loadSubscribers } from '../events/config.js';
import type { Actor } from '../events/envelope.js';
import type { Subscriber } from '../events/subscriber.js';
import type { SpawnOptions } from '../process/options.js';
import { describeOrphans, reapOrphanCgroups } from '../process/orphans.js';
import { type SignalName, signalNumber } from '../process/signals.js';
import type { ExitStatus } from '../process/status.js';
import type { ThreadHandle } from '../thread/handle.js';
import { AuditTrail } from './audit.js';
import { registerDaemonActions } from './daemons.js';
import { nextId } from './ids.js';
import { ManagedProcess } from './managed.js';
import { registerPipelineAction } from './pipeline.js';
import { compilePolicy, type PolicyGate, type ProcessPolicy, refusal } from './policy.js';
import { registerProcessActions } from './processes.js';
import { shutdownService } from './shutdown.js';
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
   * else the `events:` block of `<root>/specscore.yaml` (else core-process.yaml; root defaults
   * to the cwd).
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
  for (const key of [
    'affinity',
    'scheduler',
    'nice',
    'rlimits',
    'uid',
    'gid',
    'sandbox',
    'limits',
  ] as const) {
    if (o[key] !== undefined) out[key] = o[key];
  }
  if (o.inheritScheduling === true) out.inheritScheduling = true;
  return out;
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
        denied(ctx, e, {
          program: requested.program,
          args: [...(requested.args ?? [])],
          ...(requested.sandbox === undefined ? {} : { sandbox: requested.sandbox }),
        });
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
      const failure = {
        id,
        program: spawnOptions.program,
        args: [...(spawnOptions.args ?? [])],
        error: e instanceof Error ? e.message : String(e),
        code: e instanceof ProcessError ? (e.code ?? null) : null,
      };
      // On the bus too (metrics count failures by kind); the caller still gets the error.
      core.events.publish('process.spawn-failed', {
        ...failure,
        kind: e instanceof ProcessError ? e.kind : 'SpawnFailed',
      });
      audit?.record('process.spawn-failed', failure, {
        actor,
        artifact: { id, path: spawnOptions.program },
      });
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

  function register(core: Core): void {
    registerProcessActions(core, {
      processes,
      detached,
      manage: (spawnOptions, keep, ctx) => manage(core, spawnOptions, keep, ctx),
      signal: (m, sig, group, ctx) => sendSignal(m, sig, group, actorOf(ctx, self), ctx.action),
    });
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

  async function startup(core: Core): Promise<void> {
    self = { kind: 'service', id: `${core.name}/process` };
    // A core that crashed left the cgroups of its processes' trees: clean them before any start.
    const orphans = await reapOrphanCgroups();
    describeOrphans(orphans).forEach((line, i) => {
      core.logger.warn(line, { ...orphans[i] });
    });
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
    onShutdown: (_core, { signal }) =>
      shutdownService(
        {
          processes,
          threads,
          daemons,
          detached,
          daemonOwned,
          killSignal,
          killGrace,
          signal: (m, sig, group) => sendSignal(m, sig, group, self, 'shutdown'),
          flush: async () => {
            await audit?.flush();
          },
        },
        signal,
      ),
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
