/**
 * PipeReader: a Readable over our end of a child's stdout/stderr pipe, fed by the addon's
 * reader (native/reader.cc), which drains the pipe in chunks of up to 1 MiB per wake-up
 * instead of net.Socket's 64 KiB. Back-pressure: when push() says the buffer is full the
 * native poll stops, and _read() starts it again.
 *
 * pipeTo(destination) hands the rest of the pipe to the addon, which splices it into a file,
 * socket or descriptor on its own thread: after the bytes already buffered here, nothing more
 * enters JS.
 */
import { closeSync } from 'node:fs';
import { Readable } from 'node:stream';
import { errnoName, ProcessError } from '../errors.js';
import { native } from '../native.js';
import {
  checkPipeToOptions,
  type PipeDestination,
  type PipeToOptions,
  type PipeToResult,
  resolveTarget,
  startPipeTo,
} from './pipe-to.js';

/** What child.stdout / child.stderr are: a Readable that can also hand itself to a descriptor. */
export interface ChildOutput extends Readable {
  /**
   * Moves everything the child writes from now on (after what this stream has buffered) to
   * `destination` in the kernel (splice(2)), off the JS thread. The stream ends when it is
   * done; resolves with the bytes written, rejects a ProcessError naming the failed syscall.
   * @example
   * const child = spawn({ program: 'tar', args: ['-c', 'dir'], stdout: 'pipe' });
   * const { bytes } = await child.stdout!.pipeTo('/tmp/dir.tar');
   */
  pipeTo(destination: PipeDestination, options?: PipeToOptions): Promise<PipeToResult>;
  ref(): this;
  unref(): this;
  readonly refed: boolean;
}

/**
 * @internal The key of the method lib/child_process calls to hand this pipe's descriptor to
 * another child as its stdio (Node's 'wrap' stdio): the native reader stops, the descriptor
 * stays open here (closed with the stream), and the bytes flow between the two children in
 * the kernel. Returns the fd, or -1 when the pipe is gone (ended, destroyed, piped).
 */
export const STDIO_FD: unique symbol = Symbol('core.process.stdioFd');

export class PipeReader extends Readable implements ChildOutput {
  #id: number;
  #stdioFd = -1;
  #refed = true;
  #eof = false;
  #piping = false;
  #job: number | null = null;

  /** `grow` false keeps the pipe at the size the caller chose (pipeSize). */
  constructor(fd: number, grow = true) {
    // A high-water mark of one full chunk keeps the writer busy without buffering much.
    super({ highWaterMark: 1024 * 1024 });
    const id = native.readerStart(
      fd,
      (chunks, eof, errno) => this.#onData(chunks, eof, errno),
      grow,
    );
    if (id < 0) {
      const code = errnoName(-id);
      throw new ProcessError('SpawnFailed', `pipe reader for fd ${fd}: ${code}`, {
        code,
        errno: -id,
        syscall: 'uv_poll_init',
      });
    }
    this.#id = id;
  }

  #onData(chunks: Buffer[], eof: boolean, errno: number): void {
    let more = true;
    for (const chunk of chunks) more = this.push(chunk) && more;
    if (errno !== 0) {
      const code = errnoName(errno);
      this.destroy(
        new ProcessError('SpawnFailed', `read from child pipe: ${code}`, {
          code,
          errno,
          syscall: 'read',
        }),
      );
      return;
    }
    if (eof) {
      this.#eof = true;
      this.push(null);
      native.readerClose(this.#id);
      return;
    }
    if (!more) native.readerPause(this.#id);
  }

  override _read(): void {
    if (!this.#piping) native.readerResume(this.#id);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Cancelling closes the pipe's read end on the native side: the writer gets SIGPIPE.
    if (this.#job !== null) native.pipeToCancel(this.#job);
    native.readerClose(this.#id);
    if (this.#stdioFd >= 0) closeSync(this.#stdioFd);
    this.#stdioFd = -1;
    callback(error);
  }

  [STDIO_FD](): number {
    if (this.#stdioFd >= 0) return this.#stdioFd;
    if (this.#eof || this.#piping || this.destroyed) return -1;
    const fd = native.readerDetach(this.#id);
    if (fd < 0) return -1;
    this.#stdioFd = fd;
    // No more reads here: _read() must not restart a reader that no longer exists.
    this.#piping = true;
    return fd;
  }

  async pipeTo(destination: PipeDestination, options: PipeToOptions = {}): Promise<PipeToResult> {
    if (this.#piping || this.destroyed) {
      throw new ProcessError(
        'InvalidCommand',
        `pipeTo: this stream is ${this.destroyed ? 'destroyed' : 'already piped'}`,
        { field: 'pipeTo', code: 'EINVAL' },
      );
    }
    const method = checkPipeToOptions(options);
    const target = resolveTarget(destination);
    this.#piping = true;
    let src = -1;
    if (!this.#eof) {
      src = native.readerDetach(this.#id);
      if (src < 0) {
        const code = errnoName(-src);
        throw new ProcessError('SpawnFailed', `pipeTo: cannot take over the pipe: ${code}`, {
          code,
          errno: -src,
          syscall: 'fcntl',
        });
      }
    }
    // What was read before the hand-over goes first, so the destination sees every byte in order.
    const held: Buffer[] = [];
    for (let chunk = this.read(); chunk !== null; chunk = this.read()) held.push(chunk as Buffer);
    const prefix = held.length > 0 ? Buffer.concat(held) : null;
    try {
      return await startPipeTo(src, target, prefix, method, (id) => {
        this.#job = id;
      });
    } finally {
      this.#job = null;
      if (!this.readableEnded && !this.destroyed) this.push(null);
      // Nobody may be reading: 'end' only comes to a flowing stream, and we want 'close'.
      this.resume();
    }
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
