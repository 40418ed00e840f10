/**
 * Caller-owned read buffers for a child's stdout/stderr: `stdout: { onread: { buffer,
 * callback } }`, net.Socket's idiom. The addon read()s straight into the caller's buffer and
 * calls back with the count, so after the first read nothing is allocated per read: no
 * Buffer, no fresh pages for the kernel to fault in and zero (which is what kept the 'pipe'
 * stream at half the C loop's speed here, issue 18).
 *
 * The stream (child.stdout) still exists, without data events: it ends ('end', 'close') at
 * EOF, reports read errors and an exception thrown by the callback as 'error', and its
 * pause()/resume() stop and restart the reads. A callback returning false pauses it too: the
 * pipe fills and the writer blocks until resume().
 */
import { Readable } from 'node:stream';
import { errnoName, invalid, ProcessError } from '../errors.js';
import { native } from '../native.js';
import type { ChildOutput } from './pipe-reader.js';
import type { PipeToResult } from './pipe-to.js';

/** What `onread` takes: a buffer (or a function returning one) and a per-read callback. */
export interface OnreadOptions {
  /**
   * The memory every read lands in, reused from read to read; or a function the reader calls
   * for the buffer of each next read (return the same one to keep it allocation-free).
   */
  buffer: Uint8Array | (() => Uint8Array);
  /**
   * Called after each read with the byte count; the bytes are `buffer.subarray(0, nread)`,
   * valid until the callback returns (the next read overwrites them). Return false to pause;
   * any other value (or none) reads on.
   */
  callback: (nread: number, buffer: Uint8Array) => unknown;
}

/** The stdio spec that selects a caller-owned buffer (stdout and stderr only). */
export interface OnreadSpec {
  onread: OnreadOptions;
}

function checkBuffer(field: string, b: unknown): Uint8Array {
  if (!(b instanceof Uint8Array) || b.byteLength === 0) {
    throw invalid(field, b, 'must be a non-empty Buffer or Uint8Array');
  }
  return b;
}

/** Validates `{ onread }` for stream `field` (before any syscall); returns it checked. */
export function checkOnread(field: string, spec: Record<string, unknown>): OnreadOptions {
  if (field === 'stdin') throw invalid('stdin.onread', spec.onread, 'is for stdout and stderr');
  const o = spec.onread as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object') {
    throw invalid(`${field}.onread`, o, 'must be { buffer, callback }');
  }
  if (typeof o.callback !== 'function') {
    throw invalid(`${field}.onread.callback`, o.callback, 'must be a function');
  }
  if (typeof o.buffer !== 'function') checkBuffer(`${field}.onread.buffer`, o.buffer);
  return o as unknown as OnreadOptions;
}

export class OnreadReader extends Readable implements ChildOutput {
  /** Bytes delivered to the callback so far. */
  bytesRead = 0;
  #id: number;
  #buffer: Uint8Array;
  #next: (() => Uint8Array) | null;
  #callback: OnreadOptions['callback'];
  #field: string;
  #refed = true;

  /** @internal `grow` false keeps the pipe at the size the caller chose (pipeSize). */
  constructor(fd: number, field: string, options: OnreadOptions, grow: boolean) {
    super({ highWaterMark: 0 });
    this.#field = field;
    this.#callback = options.callback;
    this.#next = typeof options.buffer === 'function' ? options.buffer : null;
    this.#buffer = this.#next
      ? checkBuffer(`${field}.onread.buffer()`, this.#next())
      : (options.buffer as Uint8Array);
    const id = native.readerStartInto(fd, this.#buffer, (n) => this.#onRead(n), grow);
    if (id < 0) {
      const code = errnoName(-id);
      throw new ProcessError('SpawnFailed', `onread reader for ${field} (fd ${fd}): ${code}`, {
        code,
        errno: -id,
        syscall: 'uv_poll_init',
      });
    }
    this.#id = id;
    // Flowing from the start, so 'end' is emitted at EOF without anyone reading.
    super.resume();
  }

  // One call per read() from the addon: n > 0 bytes, 0 EOF, -errno. The answer steers the
  // addon: false pauses, a Uint8Array is the next buffer, true goes on.
  #onRead(n: number): boolean | Uint8Array {
    if (n > 0) {
      this.bytesRead += n;
      let more: unknown;
      try {
        more = this.#callback(n, this.#buffer);
      } catch (error) {
        // Closing our end is what stops the child: its next write gets SIGPIPE.
        this.destroy(error as Error);
        return false;
      }
      if (more === false) {
        super.pause();
        return false;
      }
      if (this.#next === null) return true;
      let next: Uint8Array;
      try {
        next = checkBuffer(`${this.#field}.onread.buffer()`, this.#next());
      } catch (error) {
        this.destroy(error as Error);
        return false;
      }
      if (next === this.#buffer) return true;
      this.#buffer = next;
      return next;
    }
    if (n === 0) {
      native.readerClose(this.#id);
      this.push(null);
      return false;
    }
    const code = errnoName(-n);
    this.destroy(
      new ProcessError('SpawnFailed', `read from child ${this.#field}: ${code}`, {
        code,
        errno: -n,
        syscall: 'read',
      }),
    );
    return false;
  }

  override _read(): void {
    // Nothing to pull: the addon pushes into the caller's buffer.
  }

  /** Refused: with onread the bytes already go to the caller's callback. */
  pipeTo(): Promise<PipeToResult> {
    return Promise.reject(
      new ProcessError(
        'InvalidCommand',
        `pipeTo: ${this.#field} is read through onread; spawn it with ${this.#field}: 'pipe' to pipe it`,
        { field: `${this.#field}.onread`, code: 'EINVAL' },
      ),
    );
  }

  /** Stops reading: the pipe fills and the child blocks in write(). */
  override pause(): this {
    if (this.#id !== undefined) native.readerPause(this.#id);
    return super.pause();
  }

  /** Reads again after pause() or a callback that returned false. */
  override resume(): this {
    // Readable's constructor machinery may call this before the reader exists.
    if (this.#id !== undefined && !this.destroyed) native.readerResume(this.#id);
    return super.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    native.readerClose(this.#id);
    callback(error);
  }

  /** Lets the process exit while this pipe is open (like net.Socket#unref). */
  unref(): this {
    this.#refed = false;
    native.readerRef(this.#id, false);
    return this;
  }

  ref(): this {
    this.#refed = true;
    native.readerRef(this.#id, true);
    return this;
  }

  get refed(): boolean {
    return this.#refed;
  }
}
