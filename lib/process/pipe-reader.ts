/**
 * PipeReader: a Readable over our end of a child's stdout/stderr pipe, fed by the addon's
 * reader (native/reader.cc), which drains the pipe in chunks of up to 1 MiB per wake-up
 * instead of net.Socket's 64 KiB. Back-pressure: when push() says the buffer is full the
 * native poll stops, and _read() starts it again.
 */
import { Readable } from 'node:stream';
import { errnoName, ProcessError } from '../errors.js';
import { native } from '../native.js';

export class PipeReader extends Readable {
  #id: number;
  #refed = true;

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
      this.push(null);
      native.readerClose(this.#id);
      return;
    }
    if (!more) native.readerPause(this.#id);
  }

  override _read(): void {
    native.readerResume(this.#id);
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
