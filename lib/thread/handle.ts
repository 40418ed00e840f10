/**
 * ThreadHandle: one thread made by createThread, from the moment it is pinned and
 * prioritised until its OS thread is gone. `exited` settles exactly once, after the worker's
 * 'exit' (Node has joined the OS thread by then) and after the control port has delivered
 * everything the thread sent: the two arrive in either order.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { describe } from '../errors.js';
import type { ControlMessage } from './bootstrap.js';

export interface ThreadResult {
  /** The worker's exit code: 0, 1 when it failed, or what it set with process.exitCode/exit(). */
  exitCode: number;
  /** What the start function returned (resolved), structured-cloned; undefined otherwise. */
  value: unknown;
  /**
   * Set when the start function (or the module) threw, the thread crashed afterwards, or it
   * ended before its start function settled (terminate(), process.exit()).
   */
  error?: Error;
}

// A worker whose control port never reports 'close' after 'exit' has not been seen; this
// only bounds how long such a thread would keep joinThread waiting.
const CLOSE_GRACE_MS = 1000;

/**
 * @example
 * const t = await createThread(new URL('./rx.js', import.meta.url), { name: 'rx' });
 * t.worker.postMessage({ op: 'subscribe' }); // the worker's own channel stays the caller's
 * const { exitCode, value, error } = await t.exited; // never rejects
 */
export class ThreadHandle {
  /** The OS thread id (Linux gettid()), as /proc/<pid>/task/<tid>, taskset -p and chrt -p use. */
  readonly tid: number;
  /** The name given to createThread, in full (the kernel keeps 15 bytes of it). */
  readonly name: string | undefined;
  /** worker_threads' own id, which is not an OS thread id. */
  readonly threadId: number;
  /** The underlying Worker: postMessage / 'message' are the caller's own channel. */
  readonly worker: Worker;
  /** Created with detached: true: it does not keep the process alive and cannot be joined. */
  readonly detached: boolean;
  /** Settles once the OS thread is gone; never rejects. */
  readonly exited: Promise<ThreadResult>;

  #port: MessagePort;
  #value: unknown;
  #returned = false;
  #error: Error | undefined;
  #exitCode: number | null = null;
  #portClosed = false;
  #result: ThreadResult | null = null;
  #resolve!: (r: ThreadResult) => void;
  #waiters = new Set<(r: ThreadResult) => void>();
  #grace: NodeJS.Timeout | undefined;

  /** @internal Use createThread(). */
  constructor(
    worker: Worker,
    port: MessagePort,
    tid: number,
    name: string | undefined,
    detached: boolean,
  ) {
    this.worker = worker;
    this.#port = port;
    this.tid = tid;
    this.name = name;
    this.threadId = worker.threadId;
    this.detached = detached;
    this.exited = new Promise<ThreadResult>((resolve) => {
      this.#resolve = resolve;
    });
    port.on('message', (m: ControlMessage) => this.#onControl(m));
    port.on('close', () => {
      this.#portClosed = true;
      this.#trySettle();
    });
    // Always listened to: an unhandled 'error' on a Worker would be thrown in this thread.
    worker.on('error', (e: Error) => {
      this.#error ??= e;
    });
    worker.on('exit', (code: number) => {
      this.#exitCode = code;
      this.#trySettle();
      if (this.#result === null) {
        this.#grace = setTimeout(() => this.#settle(), CLOSE_GRACE_MS).unref();
      }
    });
    // The worker itself is what keeps the process alive (unless detached); the port must not.
    port.unref();
    if (detached) worker.unref();
  }

  /** True until the OS thread is gone (the worker's 'exit'). */
  get running(): boolean {
    return this.#exitCode === null;
  }

  /** The result once the thread is gone, else null. */
  get result(): ThreadResult | null {
    return this.#result;
  }

  /** `thread rx (tid 1234)`: how messages name this thread. */
  get label(): string {
    return threadLabel(this.name, this.tid);
  }

  /** @internal For joinThread: calls `cb` once with the result; returns the unsubscribe. */
  _onSettled(cb: (r: ThreadResult) => void): () => void {
    if (this.#result !== null) {
      cb(this.#result);
      return () => {};
    }
    this.#waiters.add(cb);
    return () => this.#waiters.delete(cb);
  }

  #onControl(m: ControlMessage): void {
    if (m.type === 'result') {
      this.#returned = true;
      this.#value = m.value;
    } else if (m.type === 'error') {
      this.#error ??= asError(m.error, m.props);
    }
  }

  #trySettle(): void {
    if (this.#exitCode !== null && this.#portClosed) this.#settle();
  }

  #settle(): void {
    if (this.#result !== null || this.#exitCode === null) return;
    if (this.#grace !== undefined) clearTimeout(this.#grace);
    const exitCode = this.#exitCode;
    let error = this.#error;
    if (error === undefined && !this.#returned) {
      error = new Error(
        `${this.label} ended (exit code ${exitCode}) before its start function returned`,
      );
    }
    const result: ThreadResult =
      error === undefined
        ? { exitCode, value: this.#value }
        : { exitCode, value: this.#value, error };
    this.#result = result;
    this.#port.close();
    this.#resolve(result);
    for (const waiter of this.#waiters) waiter(result);
    this.#waiters.clear();
  }
}

export function threadLabel(name: string | undefined, tid: number): string {
  return name === undefined ? `thread tid ${tid}` : `thread ${name} (tid ${tid})`;
}

// Errors cross threads by structured clone, which keeps name, message and stack but not
// their own properties (`code`...); the bootstrap sends those alongside.
function asError(thrown: unknown, props: Record<string, unknown> | undefined): Error {
  const error =
    thrown instanceof Error
      ? thrown
      : new Error(`the thread threw a non-Error value: ${describe(thrown)}`, { cause: thrown });
  for (const [key, value] of Object.entries(props ?? {})) {
    if (!(key in error)) {
      Object.defineProperty(error, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  return error;
}
