/**
 * The supervisor: keeps one child running in its own process group. It restarts the child
 * per policy with exponential backoff and jitter, gives up after too many restarts in a
 * window (and says so), and probes health: after `failureThreshold` failed probes in a row
 * it stops the whole group (stop signal, grace, SIGKILL) and restarts it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, ProcessError } from '../errors.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import { crashSafeDefaults } from '../process/orphans.js';
import { type SignalName, signalNumber } from '../process/signals.js';
import { spawn } from '../process/spawn.js';
import type { ExitStatus } from '../process/status.js';
import { checkProbe, type HealthProbe, probe } from './probe.js';

export type RestartPolicyName = 'never' | 'on-failure' | 'always';

export interface RestartOptions {
  policy?: RestartPolicyName;
  /** Restarts allowed within `windowMs` before giving up. Default 5. */
  maxRestarts?: number;
  /** Default 60,000 ms. A child that stays up this long also resets the backoff. */
  windowMs?: number;
  backoff?: { initialMs?: number; factor?: number; maxMs?: number };
  /** Random spread of each delay, as a fraction (0.1 = ±10%). Default 0.1. */
  jitter?: number;
}

export interface SuperviseOptions
  extends Omit<SpawnOptions, 'program' | 'args' | 'processGroup' | 'signal'> {
  name: string;
  command: string;
  args?: string[];
  restart?: RestartOptions;
  health?: HealthProbe;
  /** Sent to the group to stop it; default SIGTERM. */
  stopSignal?: SignalName;
  /** Milliseconds between stopSignal and SIGKILL; default 5000. */
  stopGraceMs?: number;
  /** Where daemon.* events go (the core's bus, the CLI's status line). */
  onEvent?: (topic: DaemonTopic, payload: Record<string, unknown>) => void;
  /** Spawner; the process service passes its policy-checked, audited one. */
  start?: (options: SpawnOptions) => ProcessHandle;
  /** Timers, injectable so backoff can be tested in fake time. */
  timers?: Timers;
  /**
   * Children outlive a crash of this supervisor, so that the next one can adopt them: no
   * PDEATHSIG, and each child's cgroup is leased to the child (see ProcessHandle.leaseTree),
   * which orphan reaping spares while the child lives. Off by default: a crashed supervisor
   * then takes its children with it and the next one starts afresh.
   */
  outlive?: boolean;
  /** Supervise this already-running process first (see adoptProcess) instead of starting one. */
  adopt?: ProcessHandle;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
  random(): number;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  now: () => performance.now(),
  random: Math.random,
};

export type DaemonTopic =
  | 'daemon.started'
  | 'daemon.exited'
  | 'daemon.restarting'
  | 'daemon.unhealthy'
  | 'daemon.gave-up'
  | 'daemon.stopped';

export type SupervisorState =
  | 'starting'
  | 'running'
  | 'backoff'
  | 'stopping'
  | 'stopped'
  | 'gave-up';

export interface SupervisorStatus {
  name: string;
  state: SupervisorState;
  pid: number | null;
  /** Restarts so far (not counting the first start). */
  restarts: number;
  /** Last probe verdict; null before the first probe or without a probe. */
  healthy: boolean | null;
  consecutiveHealthFailures: number;
  lastExit: { code: number | null; signal: string | null; durationMs: number } | null;
  /** Why it gave up or why the last start failed. */
  reason: string | null;
}

// Node timers fire after 1 ms for anything above 2^31-1: a delay field is refused above it.
const TIMER_MAX = 0x7fffffff;

function positive(
  field: string,
  v: number | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_VALUE,
): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= min && v <= max)) {
    const range = max === Number.MAX_VALUE ? `>= ${min}` : `in ${min}..${max}`;
    throw new ProcessError(
      'InvalidCommand',
      `supervise: invalid ${field}: ${String(v)} must be a number ${range}`,
      { field, code: 'EINVAL' },
    );
  }
  return v;
}

/**
 * A supervised child. Built and started by `supervise()`.
 *
 * @example
 * const s = supervise({ name: 'web', command: 'node', args: ['server.js'], restart: { policy: 'always' } });
 * s.status(); // { state: 'running', pid: 4242, restarts: 0, ... }
 * await s.stop();
 */
export class Supervisor {
  readonly name: string;
  /** Settles when supervision ends: stopped or gave up. */
  readonly done: Promise<SupervisorStatus>;
  readonly #o: SuperviseOptions;
  readonly #t: Timers;
  readonly #policy: RestartPolicyName;
  readonly #maxRestarts: number;
  readonly #windowMs: number;
  readonly #initialMs: number;
  readonly #factor: number;
  readonly #maxMs: number;
  readonly #jitter: number;
  readonly #stopSignal: SignalName;
  readonly #graceMs: number;
  #state: SupervisorState = 'starting';
  #child: ProcessHandle | null = null;
  #restartTimes: number[] = [];
  #attempt = 0;
  #restarts = 0;
  #healthy: boolean | null = null;
  #healthFailures = 0;
  #lastExit: SupervisorStatus['lastExit'] = null;
  #reason: string | null = null;
  #timer: unknown = null;
  #probeTimer: unknown = null;
  #restartingForHealth = false;
  #resolveDone!: (s: SupervisorStatus) => void;

  /** @internal Use supervise(). */
  constructor(options: SuperviseOptions) {
    if (typeof options.name !== 'string' || options.name.length === 0) {
      throw new ProcessError('InvalidCommand', 'supervise: name must be a non-empty string', {
        field: 'name',
        code: 'EINVAL',
      });
    }
    this.name = options.name;
    this.#o = options;
    this.#t = options.timers ?? realTimers;
    const r = options.restart ?? {};
    this.#policy = r.policy ?? 'on-failure';
    if (!['never', 'on-failure', 'always'].includes(this.#policy)) {
      throw new ProcessError(
        'InvalidCommand',
        `supervise: invalid restart.policy: ${describe(this.#policy)} (use never, on-failure or always)`,
        { field: 'restart.policy', code: 'EINVAL' },
      );
    }
    this.#maxRestarts = positive('restart.maxRestarts', r.maxRestarts, 5);
    this.#windowMs = positive('restart.windowMs', r.windowMs, 60_000, 1);
    this.#initialMs = positive(
      'restart.backoff.initialMs',
      r.backoff?.initialMs,
      100,
      0,
      TIMER_MAX,
    );
    this.#factor = positive('restart.backoff.factor', r.backoff?.factor, 2, 1);
    this.#maxMs = positive('restart.backoff.maxMs', r.backoff?.maxMs, 30_000, 0, TIMER_MAX);
    this.#jitter = positive('restart.jitter', r.jitter, 0.1);
    if (this.#jitter > 1) {
      throw new ProcessError(
        'InvalidCommand',
        `supervise: invalid restart.jitter: ${this.#jitter} must be <= 1`,
        {
          field: 'restart.jitter',
          code: 'EINVAL',
        },
      );
    }
    this.#stopSignal = options.stopSignal ?? 'SIGTERM';
    signalNumber(this.#stopSignal, 'stopSignal'); // refused now, not when stop() needs it
    this.#graceMs = positive('stopGraceMs', options.stopGraceMs, 5000, 0, TIMER_MAX);
    if (options.health !== undefined) checkProbe(options.health);
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
  }

  status(): SupervisorStatus {
    return {
      name: this.name,
      state: this.#state,
      pid: this.#child?.running ? this.#child.pid : null,
      restarts: this.#restarts,
      healthy: this.#healthy,
      consecutiveHealthFailures: this.#healthFailures,
      lastExit: this.#lastExit,
      reason: this.#reason,
    };
  }

  /** The health probe it runs, if any. */
  get health(): HealthProbe | undefined {
    return this.#o.health;
  }

  /** The running child's handle, if any. */
  get child(): ProcessHandle | null {
    return this.#child?.running ? this.#child : null;
  }

  /** @internal Starts the first child; a spawn failure here is thrown to the caller. */
  begin(): void {
    if (this.#o.adopt?.running === true) this.#watch(this.#o.adopt);
    else this.#launch(true);
  }

  /**
   * Stops supervising: the group gets the stop signal, SIGKILL after the grace; resolves
   * once the child has exited. Idempotent.
   *
   * @example
   * await supervisor.stop();
   */
  async stop(): Promise<SupervisorStatus> {
    if (this.#state === 'stopped' || this.#state === 'gave-up') return this.done;
    this.#state = 'stopping';
    this.#clearTimers();
    const child = this.#child;
    if (child?.running) await this.#terminate(child);
    this.#finish('stopped', null);
    return this.done;
  }

  #emit(topic: DaemonTopic, payload: Record<string, unknown>): void {
    this.#o.onEvent?.(topic, { name: this.name, ...payload });
  }

  #spawnOptions(): SpawnOptions {
    const {
      name: _n,
      command,
      args,
      restart: _r,
      health: _h,
      stopSignal: _s,
      stopGraceMs: _g,
      onEvent: _e,
      start: _st,
      timers: _t,
      outlive,
      adopt: _a,
      ...spawnOptions
    } = this.#o;
    return {
      stdin: 'null',
      // The child dies with us (a SIGKILL of the supervisor included), its tree with it or at
      // the next start; pass dieWithParent: false / containment to opt out.
      // A tree meant to outlive us (--adopt) must not be in a namespace that dies with us.
      ...crashSafeDefaults(outlive !== true),
      ...(outlive === true ? { dieWithParent: false } : {}),
      ...spawnOptions,
      program: command,
      args: args ?? [],
      processGroup: true,
    };
  }

  #launch(first: boolean): void {
    this.#state = 'starting';
    let child: ProcessHandle;
    try {
      child = (this.#o.start ?? spawn)(this.#spawnOptions());
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      if (first) {
        this.#finish('gave-up', `could not start: ${why}`);
        throw e;
      }
      this.#reason = `could not start: ${why}`;
      this.#afterExit(null);
      return;
    }
    this.#watch(child);
  }

  #watch(child: ProcessHandle): void {
    this.#child = child;
    this.#healthy = null;
    this.#healthFailures = 0;
    this.#state = 'running';
    this.#emit('daemon.started', {
      pid: child.pid,
      restarts: this.#restarts,
      ...(child.spawnMethod === 'adopted' ? { adopted: true } : {}),
    });
    // Leased only now, after 'daemon.started' let the caller record the child (the CLI's child
    // PID file): a crash in between leaves an unleased tree, which the next start reaps, rather
    // than a leased one nobody knows to adopt, which would run beside the next copy.
    if (this.#o.outlive === true) child.leaseTree();
    void child.exited.then((status) => {
      if (this.#child !== child) return;
      this.#lastExit = { code: status.code, signal: status.signal, durationMs: status.durationMs };
      this.#emit('daemon.exited', {
        pid: status.pid,
        code: status.code,
        signal: status.signal,
        durationMs: status.durationMs,
        ...(status.lost === true ? { lost: true } : {}),
      });
      if (this.#state === 'stopping' || this.#state === 'stopped') return;
      if (this.#restartingForHealth || !child.treeAlive()) {
        this.#afterExit(status);
        return;
      }
      // What the child left running (a shell's background job) goes before a restart, as
      // systemd's KillMode=control-group does: else every restart adds a copy of it.
      void this.#terminate(child).then(() => {
        if (this.#state !== 'stopping' && this.#state !== 'stopped') this.#afterExit(status);
      });
    });
    if (this.#o.health !== undefined) this.#scheduleProbe(this.#o.health.startPeriodMs ?? 0, child);
  }

  #afterExit(status: ExitStatus | null): void {
    this.#clearTimers();
    const forHealth = this.#restartingForHealth;
    this.#restartingForHealth = false;
    const failed = status === null || status.code !== 0 || forHealth;
    const restart =
      this.#policy === 'always' || (this.#policy === 'on-failure' && failed) || forHealth;
    if (!restart) {
      this.#finish('stopped', failed ? this.#describeExit(status) : null);
      return;
    }
    const now = this.#t.now();
    // A child that stayed up for the whole window earned a fresh start: backoff from zero.
    if (status !== null && status.durationMs >= this.#windowMs) this.#attempt = 0;
    this.#restartTimes = this.#restartTimes.filter((t) => now - t < this.#windowMs);
    if (this.#restartTimes.length >= this.#maxRestarts) {
      const why = `${this.#restartTimes.length} restarts within ${this.#windowMs} ms (maxRestarts ${this.#maxRestarts}); last: ${this.#describeExit(status)}`;
      this.#emit('daemon.gave-up', { restarts: this.#restarts, reason: why });
      this.#finish('gave-up', why);
      return;
    }
    const base = Math.min(this.#maxMs, this.#initialMs * this.#factor ** this.#attempt);
    const delayMs = Math.max(0, Math.round(base * (1 + this.#jitter * (2 * this.#t.random() - 1))));
    this.#attempt++;
    this.#restartTimes.push(now);
    this.#state = 'backoff';
    const reason = forHealth ? 'unhealthy' : this.#describeExit(status);
    this.#emit('daemon.restarting', { attempt: this.#attempt, delayMs, reason });
    this.#timer = this.#t.setTimeout(() => {
      this.#timer = null;
      if (this.#state !== 'backoff') return;
      this.#restarts++;
      this.#launch(false);
    }, delayMs);
  }

  #describeExit(status: ExitStatus | null): string {
    if (status === null) return this.#reason ?? 'could not start';
    if (status.lost === true)
      return 'exited with an unknown status (adopted: it went to its parent)';
    return status.signal !== null
      ? `killed by ${status.signal}`
      : `exited with code ${status.code}`;
  }

  #scheduleProbe(delayMs: number, child: ProcessHandle): void {
    const health = this.#o.health;
    if (health === undefined) return;
    this.#probeTimer = this.#t.setTimeout(async () => {
      this.#probeTimer = null;
      if (this.#child !== child || !child.running || this.#state !== 'running') return;
      const verdict = await probe(health, this.#o.start ?? spawn);
      if (this.#child !== child || !child.running || this.#state !== 'running') return;
      this.#healthy = verdict.ok;
      if (verdict.ok) {
        this.#healthFailures = 0;
      } else {
        this.#healthFailures++;
        const threshold = health.failureThreshold ?? 3;
        this.#emit('daemon.unhealthy', {
          pid: child.pid,
          failures: this.#healthFailures,
          threshold,
          error: verdict.error,
        });
        if (this.#healthFailures >= threshold) {
          this.#restartingForHealth = true;
          await this.#terminate(child);
          return; // the exit handler restarts it
        }
      }
      this.#scheduleProbe(health.intervalMs ?? 10_000, child);
    }, delayMs);
  }

  // Stop signal to the whole tree (its cgroup with containment 'cgroup', else its process
  // group), SIGKILL after the grace to whatever is left of it, the leader or not; resolves
  // once the leader has exited and the tree is empty or killed.
  async #terminate(child: ProcessHandle): Promise<void> {
    if (!child.treeAlive()) return;
    child.killTree(this.#stopSignal);
    let graceOver = false;
    const kill = this.#t.setTimeout(() => {
      graceOver = true;
      if (child.treeAlive()) child.killTree('SIGKILL');
    }, this.#graceMs);
    await child.exited;
    while (!graceOver && child.treeAlive()) await sleep(20);
    this.#t.clearTimeout(kill);
    // Members that outlived the grace were sent SIGKILL: wait until the kernel has them gone.
    if (child.treeAlive()) child.killTree('SIGKILL');
    for (let i = 0; i < 250 && child.treeAlive(); i++) await sleep(20);
  }

  #clearTimers(): void {
    if (this.#timer !== null) this.#t.clearTimeout(this.#timer);
    if (this.#probeTimer !== null) this.#t.clearTimeout(this.#probeTimer);
    this.#timer = null;
    this.#probeTimer = null;
  }

  #finish(state: 'stopped' | 'gave-up', reason: string | null): void {
    this.#clearTimers();
    this.#state = state;
    this.#reason = reason;
    if (state === 'stopped') this.#emit('daemon.stopped', { restarts: this.#restarts });
    this.#resolveDone(this.status());
  }
}

/**
 * Starts supervising a command. Throws at once when the first spawn fails (bad program,
 * policy refusal); later start failures count as failed runs and go through the backoff.
 *
 * @example
 * const web = supervise({
 *   name: 'web', command: 'node', args: ['server.js'],
 *   restart: { policy: 'on-failure', maxRestarts: 5, windowMs: 60_000, backoff: { initialMs: 200 } },
 *   health: { http: 'http://127.0.0.1:8080/health', intervalMs: 5000, failureThreshold: 3 },
 *   onEvent: (topic, payload) => core.events.publish(topic, payload),
 * });
 */
export function supervise(options: SuperviseOptions): Supervisor {
  const s = new Supervisor(options);
  s.begin();
  return s;
}
