/**
 * ProcessHandle (seed 001 §17.5): what `core.process().start()` gives back, for watching and
 * stopping a managed process. Like the rest of `core.process()` it owns no capability: every
 * method goes through the process.* actions, so the entitlement checker, the service's policy
 * and its audit see each call. Go's `Done() <-chan struct{}` is a promise here (`done`), and
 * `Wait() error` a Result.
 */
import type { Result } from '../result.js';
import type { Action } from './action.js';
import { CoreError } from './errors.js';
import { fail, ok } from './result.js';

/** Seed 001 §17.5 ProcessInfo (Go's Duration is `durationMs`). */
export interface ProcessInfo {
  readonly id: string;
  readonly pid: number | null;
  readonly command: string;
  /** pending, running, exited, failed, killed. */
  readonly status: string;
  readonly running: boolean;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly durationMs: number | null;
  /** ISO 8601. */
  readonly startedAt: string;
}

/** What `process.get` / `process.wait` answer (the service's snapshot), as far as we read it. */
interface Snapshot {
  id: string;
  pid: number | null;
  command: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number | null;
  startedAt: string;
}

/** @internal */
export interface ProcessHandleHost {
  action<I, O>(name: string): Action<I, O>;
}

function infoOf(s: Snapshot): ProcessInfo {
  return {
    id: s.id,
    pid: s.pid,
    command: s.command,
    status: s.status,
    running: s.status === 'running' || s.status === 'pending',
    exitCode: s.exitCode,
    signal: s.signal,
    durationMs: s.durationMs,
    startedAt: s.startedAt,
  };
}

/**
 * @example
 * const h = (await core.process().start({ command: 'sleep', args: ['60'] })).value;
 * h.isRunning();            // true
 * h.kill();                 // SIGTERM to its group
 * const info = await h.done;  // settles at exit, never rejects
 * (await h.wait()).ok;      // false: killed by SIGTERM
 */
export class ProcessHandle {
  readonly id: string;
  readonly pid: number | null;
  /** Settles with the final info once the process has exited; never rejects. */
  readonly done: Promise<ProcessInfo>;
  #info: ProcessInfo;
  readonly #host: ProcessHandleHost;

  /** @internal Built by `core.process().start()` from the first snapshot. */
  constructor(host: ProcessHandleHost, first: Snapshot) {
    this.#host = host;
    this.id = first.id;
    this.pid = first.pid;
    this.#info = infoOf(first);
    this.done = this.#watch();
  }

  async #watch(): Promise<ProcessInfo> {
    const r = await this.#host
      .action<{ id: string }, Snapshot>('process.wait')
      .run({ id: this.id });
    if (r.ok) {
      this.#info = infoOf(r.value);
    } else {
      // The service went away (core stopped) or forgot the id: the last word we have, marked
      // as no longer running, since nobody can wait for it any more.
      this.#info = { ...this.#info, running: false, status: this.#info.status };
    }
    return this.#info;
  }

  /**
   * @example
   * if (h.isRunning()) h.kill();
   */
  isRunning(): boolean {
    return this.#info.running;
  }

  /**
   * Sends SIGTERM (or `signal`) through `process.kill`; its Result says whether anything was
   * left to signal.
   *
   * @example
   * await h.kill('SIGKILL');
   */
  kill(signal = 'SIGTERM'): Promise<Result<boolean, CoreError>> {
    return this.#host
      .action<{ id: string; signal: string }, { sent: boolean }>('process.kill')
      .run({ id: this.id, signal })
      .then((r) => (r.ok ? ok(r.value.sent) : r));
  }

  /**
   * The captured output so far: stdout, then stderr (start it with `stderr: 'stdout'` for the
   * two in the order written). Empty when the service no longer knows the process.
   *
   * @example
   * console.log(await h.output());
   */
  async output(): Promise<string> {
    const r = await this.#host
      .action<{ id: string }, { stdout: string; stderr: string }>('process.output')
      .run({ id: this.id });
    return r.ok ? r.value.stdout + r.value.stderr : '';
  }

  /**
   * Waits for the exit: ok with the info on exit code 0, otherwise failed with the kind
   * (`NonZeroExit`, `TerminatedBySignal`) and the info as `cause`.
   *
   * @example
   * const r = await h.wait();
   * if (!r.ok) console.error(r.error.kind);
   */
  async wait(): Promise<Result<ProcessInfo, CoreError>> {
    const info = await this.done;
    if (info.exitCode === 0) return ok(info);
    const kind =
      info.signal !== null
        ? 'TerminatedBySignal'
        : info.exitCode !== null
          ? 'NonZeroExit'
          : 'NotFound';
    const why =
      info.signal !== null
        ? `was killed by ${info.signal}`
        : info.exitCode !== null
          ? `exited with code ${info.exitCode}`
          : 'is no longer known to the process service';
    return fail(
      new CoreError(kind, `process ${this.id} (${info.command}) ${why}`, {
        action: 'process.wait',
        origin: 'ProcessError',
        ...(info.signal !== null || info.exitCode !== null
          ? { code: info.signal ?? (info.exitCode as number) }
          : {}),
        cause: info,
      }),
    );
  }

  /**
   * The last known info, at once (refreshed at exit).
   *
   * @example
   * h.info().pid;
   */
  info(): ProcessInfo {
    return this.#info;
  }
}
