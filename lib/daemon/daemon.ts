/**
 * Daemon: makes the current process a well-behaved daemon in one call. It takes the PID file,
 * serves health, lists itself in the registry, and on stop (or SIGINT/SIGTERM) undoes all of
 * that in reverse, bounded, without calling process.exit: the process ends when its work does.
 */

import { processStartTime } from '../process/proc.js';
import { HealthServer, type HealthServerOptions } from './health.js';
import { PidFile } from './pidfile.js';
import { assertDaemonName, DaemonRegistry } from './registry.js';

export interface DaemonOptions {
  name: string;
  /** Groups daemons (a project, a tenant); default 'default'. */
  code?: string;
  pidFile?: string;
  /** Health server options, or false for none. */
  health?: HealthServerOptions | false;
  /** Registry to list the daemon in (default: the one in defaultRegistryDir()), or false. */
  registry?: DaemonRegistry | false;
  /** Bound on onStop; default 5000 ms. */
  shutdownTimeout?: number;
  onStop?: () => void | Promise<void>;
  /** Stop on SIGINT and SIGTERM; default true. */
  handleSignals?: boolean;
}

export type DaemonState = 'idle' | 'running' | 'stopping' | 'stopped';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The current process as a daemon: PID file, health endpoint, registry entry, signals.
 * @example
 * const daemon = new Daemon({ name: 'web', code: 'shop', pidFile: '/run/user/1000/web.pid',
 *   health: { addr: '127.0.0.1:9000', checks: { db: () => db.ping() } },
 *   onStop: () => server.close() });
 * await daemon.start(); // throws PidFileError{kind:'Held'} if web is already running
 * // SIGTERM -> onStop, health stops, registry entry and PID file removed, the process exits
 */
export class Daemon {
  readonly health: HealthServer | null;
  readonly #name: string;
  readonly #code: string;
  readonly #pidFile: PidFile | null;
  readonly #registry: DaemonRegistry | null;
  readonly #shutdownTimeout: number;
  readonly #onStop: (() => void | Promise<void>) | undefined;
  readonly #handleSignals: boolean;
  #state: DaemonState = 'idle';
  #starting: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #registeredStartTime: string | null = null;
  #registered = false;
  #pidFileHeld = false;
  readonly #onSignal = () => {
    this.stop().catch((e: unknown) => this.#report(`stop on signal failed: ${describe(e)}`));
  };

  constructor(options: DaemonOptions) {
    this.#name = assertDaemonName('daemon', options?.name);
    this.#code = assertDaemonName('code', options.code ?? 'default');
    const timeout = options.shutdownTimeout ?? 5000;
    if (!Number.isFinite(timeout) || timeout < 0) {
      throw new TypeError(
        `Daemon ${this.#name}: shutdownTimeout must be a non-negative number, got ${timeout}`,
      );
    }
    this.#shutdownTimeout = timeout;
    this.#onStop = options.onStop;
    this.#handleSignals = options.handleSignals ?? true;
    this.#pidFile = options.pidFile === undefined ? null : new PidFile(options.pidFile);
    this.health = options.health === false ? null : new HealthServer(options.health ?? {});
    this.#registry = options.registry === false ? null : (options.registry ?? new DaemonRegistry());
  }

  get state(): DaemonState {
    return this.#state;
  }

  /**
   * Acquires the PID file, starts the health server, registers, then reports ready. If a step
   * fails the earlier ones are undone and the error is rethrown.
   * @example
   * await new Daemon({ name: 'worker', pidFile: 'worker.pid', health: false }).start();
   */
  start(): Promise<void> {
    if (this.#starting !== null) {
      return Promise.reject(new Error(`Daemon.start ${this.#label}: already starting`));
    }
    if (this.#state !== 'idle') {
      return Promise.reject(new Error(`Daemon.start ${this.#label}: the daemon is ${this.#state}`));
    }
    this.#starting = this.#start().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  /**
   * Stops: not ready, onStop (bounded by shutdownTimeout; overrun or failure is reported on
   * stderr and stopping goes on), health server, registry entry, PID file. Idempotent; rejects
   * with an AggregateError only if a cleanup step failed, after trying every step.
   * @example
   * process.on('message', (m) => m === 'shutdown' && daemon.stop());
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  get #label(): string {
    return `${this.#code}/${this.#name}`;
  }

  async #start(): Promise<void> {
    if (this.#handleSignals) for (const s of SIGNALS) process.on(s, this.#onSignal);
    try {
      if (this.#pidFile !== null) {
        this.#pidFile.acquire();
        this.#pidFileHeld = true;
      }
      const address = this.health === null ? null : await this.health.start();
      if (this.#registry !== null) {
        this.#registeredStartTime = processStartTime(process.pid);
        this.#registry.register({
          code: this.#code,
          daemon: this.#name,
          pid: process.pid,
          ...(this.#registeredStartTime === null ? {} : { startTime: this.#registeredStartTime }),
          startedAt: new Date().toISOString(),
          ...(address === null ? {} : { health: address.url }),
          project: process.cwd(),
          binary: process.argv[1] ?? process.execPath,
        });
        this.#registered = true;
      }
      this.health?.setReady(true);
      this.#state = 'running';
    } catch (e) {
      const problems = await this.#teardown();
      for (const p of problems) this.#report(`undoing a failed start: ${describe(p)}`);
      this.#removeSignals();
      throw e;
    }
  }

  async #stop(): Promise<void> {
    if (this.#starting !== null) await this.#starting.catch(() => undefined);
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      this.#removeSignals();
      return;
    }
    this.#state = 'stopping';
    this.health?.setReady(false);
    await this.#runOnStop();
    const problems = await this.#teardown();
    this.#removeSignals();
    this.#state = 'stopped';
    if (problems.length > 0) {
      throw new AggregateError(
        problems,
        `Daemon.stop ${this.#label}: ${problems.map(describe).join('; ')}`,
      );
    }
  }

  async #runOnStop(): Promise<void> {
    const onStop = this.#onStop;
    if (onStop === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#shutdownTimeout);
    });
    const finished = (async () => onStop())().then(
      () => 'done' as const,
      (e: unknown) => {
        this.#report(`onStop failed: ${describe(e)}; stopping anyway`);
        return 'failed' as const;
      },
    );
    try {
      if ((await Promise.race([finished, overrun])) === 'timeout') {
        this.#report(
          `onStop did not finish within shutdownTimeout ${this.#shutdownTimeout} ms; stopping anyway`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Undoes whatever start did, in reverse; every step is tried. Returns the failures. */
  async #teardown(): Promise<unknown[]> {
    const problems: unknown[] = [];
    try {
      await this.health?.stop();
    } catch (e) {
      problems.push(e);
    }
    if (this.#registered && this.#registry !== null) {
      this.#registered = false;
      try {
        // Remove only our own entry: a later start of the same daemon may have replaced it.
        const current = this.#registry.get(this.#code, this.#name);
        if (current?.pid === process.pid && current.startTime === this.#registeredStartTime) {
          this.#registry.unregister(this.#code, this.#name);
        }
      } catch (e) {
        problems.push(e);
      }
    }
    if (this.#pidFileHeld && this.#pidFile !== null) {
      this.#pidFileHeld = false;
      try {
        this.#pidFile.release();
      } catch (e) {
        problems.push(e);
      }
    }
    return problems;
  }

  #removeSignals(): void {
    for (const s of SIGNALS) process.off(s, this.#onSignal);
  }

  #report(message: string): void {
    process.stderr.write(`core-process: daemon ${this.#label}: ${message}\n`);
  }
}
