/**
 * Exec: a hook subscriber. Each event starts a program with the JSON envelope on its stdin;
 * delivery succeeds when the program exits 0 within its wall-clock budget.
 */
import type { Readable } from 'node:stream';
import { describe } from '../errors.js';
import { spawn } from '../process/spawn.js';
import { describeStatus } from '../process/status.js';
import type { EventEnvelope } from './envelope.js';
import type { Subscriber } from './subscriber.js';

/** How much of the hook's stderr an ExecExitError keeps: enough for a stack trace. */
const STDERR_TAIL_BYTES = 4096;
/** SIGTERM first so a hook can clean up; SIGKILL this long after if it has not exited. */
const KILL_GRACE_MS = 100;
/**
 * After the hook exits, how long to wait for EOF on its stderr: a background grandchild
 * holding the pipe open must not hold the delivery (and the dispatcher) hostage.
 */
const STDERR_DRAIN_MS = 200;

export interface ExecOptions {
  /** Added over the inherited process.env (additive, not a replacement). */
  env?: Record<string, string>;
  /** Wall-clock budget in milliseconds; default 5000. The config loader bounds it. */
  timeoutMs?: number;
}

/**
 * The hook outlived its budget and was stopped (SIGTERM, then SIGKILL 100 ms later).
 * @example
 * try { await hook.deliver(event); } catch (e) { if (e instanceof ExecTimeoutError) retryLater(); }
 */
export class ExecTimeoutError extends Error {
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number) {
    super(message);
    this.name = 'ExecTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The hook exited non-zero, or died by a signal it was not sent for a timeout.
 * `stderr` holds the last 4 KiB it wrote, also quoted at the end of the message.
 * @example
 * try { await hook.deliver(event); } catch (e) {
 *   if (e instanceof ExecExitError) console.error(e.exitCode, e.signal, e.stderr);
 * }
 */
export class ExecExitError extends Error {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderr: string;

  constructor(
    message: string,
    exitCode: number | null,
    signal: string | null,
    stderr: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ExecExitError';
    this.exitCode = exitCode;
    this.signal = signal;
    this.stderr = stderr;
  }
}

/** Keeps only the last `limit` bytes of a stream; resolves at EOF or when told to stop. */
function tail(stream: Readable | null, limit: number): { done: Promise<void>; text(): string } {
  let chunks: Buffer[] = [];
  let bytes = 0;
  const done = new Promise<void>((resolve) => {
    if (stream === null) return resolve();
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > 2 * limit) {
        const kept = Buffer.concat(chunks).subarray(-limit);
        chunks = [kept];
        bytes = kept.length;
      }
    });
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
  });
  return {
    done,
    text: () => Buffer.concat(chunks).subarray(-limit).toString('utf8'),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Delivers each event by running `argv` with the JSON envelope on stdin. Resolves when the
 * program exits 0; rejects ExecExitError (non-zero exit, signal), ExecTimeoutError (budget
 * spent: SIGTERM, SIGKILL 100 ms later), or the spawn's ProcessError (ENOENT, EACCES...).
 * @example
 * const hook = new Exec(['/usr/local/bin/notify', '--channel', 'ops'], {
 *   env: { NOTIFY_TOKEN: token }, timeoutMs: 2000,
 * });
 * hook.name; // 'exec:/usr/local/bin/notify --channel ops'
 * await hook.deliver(event);
 */
export class Exec implements Subscriber {
  readonly name: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;

  constructor(argv: readonly string[], options: ExecOptions = {}) {
    if (!Array.isArray(argv) || argv.length === 0 || typeof argv[0] !== 'string' || !argv[0]) {
      throw new TypeError(
        `Exec: argv must be a non-empty array starting with the program, got ${describe(argv)}`,
      );
    }
    this.argv = [...argv];
    this.env = { ...options.env };
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.name = `exec:${argv.join(' ')}`;
  }

  /**
   * Runs the hook once for `event`. Aborting `signal` stops the hook like a timeout does
   * (SIGTERM, then SIGKILL); an already aborted signal starts nothing.
   * @example
   * await new Exec(['sh', '-c', 'cat >> /tmp/events.log']).deliver(event);
   */
  async deliver(event: EventEnvelope, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const shown = this.argv.join(' ');
    const input = JSON.stringify(event);
    const child = spawn({
      program: this.argv[0] as string,
      args: this.argv.slice(1),
      env: this.env,
      stdin: 'pipe',
      stdout: 'null',
      stderr: 'pipe',
      // Its own group, so the timeout's SIGTERM/SIGKILL also reach whatever the hook started.
      processGroup: true,
      timeout: this.timeoutMs,
      killSignal: 'SIGTERM',
      killGrace: KILL_GRACE_MS,
      signal,
    });
    const stdin = child.stdin;
    if (stdin !== null) {
      // A hook that exits without reading its stdin makes our write fail with EPIPE; its
      // exit status is the verdict, not the write error.
      stdin.on('error', () => {});
      stdin.end(input);
    }
    const stderr = tail(child.stderr, STDERR_TAIL_BYTES);
    const status = await child.exited;
    stdin?.destroy();
    await Promise.race([stderr.done, delay(STDERR_DRAIN_MS)]);
    child.stderr?.destroy();
    const errText = stderr.text();

    if (child.timedOut) {
      throw new ExecTimeoutError(
        `exec ${shown}: timed out after ${this.timeoutMs} ms and was stopped (pid ${status.pid} ${describeStatus(status)})`,
        this.timeoutMs,
      );
    }
    if (status.code === 0 && !child.aborted) return;
    const what = child.aborted
      ? `was aborted and stopped (pid ${status.pid} ${describeStatus(status)})`
      : `failed (pid ${status.pid} ${describeStatus(status)})`;
    const detail = errText.length > 0 ? `; stderr: ${errText}` : '';
    throw new ExecExitError(
      `exec ${shown}: ${what}${detail}`,
      status.code,
      status.signal,
      errText,
      child.aborted ? signal?.reason : undefined,
    );
  }
}
