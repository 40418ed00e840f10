/** JsonlWriter: appends each event as one JSON line to a file. The default subscriber. */
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { EventEnvelope } from './envelope.js';
import type { Subscriber } from './subscriber.js';

const APPEND_FLAGS = constants.O_APPEND | constants.O_CREAT | constants.O_WRONLY;
const IDLE_CLOSE_MS = 200;

/**
 * Appends `JSON.stringify(event)` plus a newline to a file, creating the file (0644) and its
 * parent directories (0755) as needed. A relative path resolves against `root`, never
 * against the current directory, so a `process.chdir()` cannot move the log.
 * @example
 * const writer = new JsonlWriter('.specscore/events.jsonl', '/srv/app');
 * writer.name; // 'jsonl:/srv/app/.specscore/events.jsonl'
 * await writer.deliver(event);
 */
export class JsonlWriter implements Subscriber {
  /** `jsonl:<absolute path>`, so a failure log points at the file on disk. */
  readonly name: string;
  /** The resolved absolute path. */
  readonly path: string;
  #tail: Promise<void> = Promise.resolve();
  // Kept open through a burst of deliveries and closed once they stop (IDLE_CLOSE_MS), so
  // an audit trail costs one write per record instead of mkdir + open + write + close, and
  // a rotated file (renamed away by logrotate) is let go of within that delay.
  #file: FileHandle | null = null;
  #idle: NodeJS.Timeout | null = null;

  constructor(path: string, root: string) {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
      throw new TypeError(
        `JsonlWriter: path must be a non-empty file path, got ${JSON.stringify(path)}`,
      );
    }
    if (typeof root !== 'string' || !isAbsolute(root) || root.includes('\0')) {
      throw new TypeError(
        `JsonlWriter: root must be an absolute directory path, got ${JSON.stringify(root)}`,
      );
    }
    // path.resolve only consults the cwd when every argument is relative; root is absolute.
    this.path = resolve(root, path);
    this.name = `jsonl:${this.path}`;
  }

  /**
   * Appends one line. Deliveries through one writer run one after another, in call order.
   * @example
   * await Promise.all(events.map((e) => writer.deliver(e))); // lines in this order
   */
  deliver(event: EventEnvelope, signal?: AbortSignal): Promise<void> {
    const line = this.#tail.then(() => this.#append(event, signal));
    // The chain carries order, not outcome: one failed append must not fail the next.
    this.#tail = line.catch(() => {});
    return line;
  }

  async #append(event: EventEnvelope, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    let json: string;
    try {
      json = JSON.stringify(event);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new TypeError(`append to ${this.path}: event is not JSON-serialisable: ${reason}`);
    }
    const data = Buffer.from(`${json}\n`, 'utf8');
    if (this.#idle !== null) clearTimeout(this.#idle);
    const file = await this.#open();
    try {
      // Why one write() of the whole line: with O_APPEND the kernel moves to the end of file
      // and writes under the inode lock in one step, so lines appended at once by several
      // processes never interleave on a local filesystem (ext4, xfs, btrfs, tmpfs). NFS
      // gives no such guarantee. A short write only happens on an error such as ENOSPC; the
      // loop then surfaces that error instead of leaving half a line silently.
      let offset = 0;
      while (offset < data.length) {
        const { bytesWritten } = await file.write(data, offset, data.length - offset);
        if (bytesWritten === 0) {
          throw new Error(`append to ${this.path}: write made no progress at byte ${offset}`);
        }
        offset += bytesWritten;
      }
    } catch (error) {
      // A handle that failed once is not trusted again: the next record reopens the file.
      this.#file = null;
      await file.close().catch(() => {});
      throw error;
    } finally {
      this.#idle = setTimeout(() => this.#release(), IDLE_CLOSE_MS);
      this.#idle.unref();
    }
  }

  async #open(): Promise<FileHandle> {
    if (this.#file !== null) return this.#file;
    try {
      this.#file = await open(this.path, APPEND_FLAGS, 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dirname(this.path), { recursive: true, mode: 0o755 });
      this.#file = await open(this.path, APPEND_FLAGS, 0o644);
    }
    return this.#file;
  }

  // Runs from the idle timer only; deliveries are chained, so none is writing now.
  #release(): void {
    this.#idle = null;
    const file = this.#file;
    this.#file = null;
    void file?.close().catch(() => {});
  }
}
