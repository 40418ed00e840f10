/**
 * PID files that cannot be half-written, taken twice, or stolen by a recycled pid. The file
 * holds the pid and its /proc start time; it is created by link(2) from a fully written temp
 * file (create-exclusive, atomic), and a stale one is replaced only by the acquirer that first
 * claims its inode, so two processes that both find it stale cannot both win.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { describe } from '../errors.js';
import { liveStartTime, processStartTime } from './proc.js';

export { processStartTime } from './proc.js';

export type PidFileErrorKind = 'Held' | 'Io';

/**
 * Why a PID file could not be acquired: `Held` when a live process owns it (`pid` says which),
 * `Io` when the file system refused (`cause` has the system error).
 * @example
 * try {
 *   new PidFile('/run/app.pid').acquire();
 * } catch (e) {
 *   if (e instanceof PidFileError && e.kind === 'Held') console.error(`already running as ${e.pid}`);
 * }
 */
export class PidFileError extends Error {
  readonly kind: PidFileErrorKind;
  readonly path: string;
  readonly pid?: number;

  constructor(
    kind: PidFileErrorKind,
    message: string,
    details: { path: string; pid?: number; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'PidFileError';
    this.kind = kind;
    this.path = details.path;
    if (details.pid !== undefined) this.pid = details.pid;
  }
}

/** The content of a PID file. */
export interface PidRecord {
  pid: number;
  startTime: string;
}

interface Seen {
  ino: number;
  record: PidRecord | null;
}

// Attempts of the acquire loop; each ends in success, Held, or a file that changed under us.
const MAX_ATTEMPTS = 50;
// How long to wait for another acquirer that holds the claim on a stale file to finish.
const CLAIM_WAIT_MS = 1000;
const MAX_FILE_BYTES = 4096;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function parseRecord(text: string): PidRecord | null {
  const [pidLine, startLine] = text.split('\n');
  if (pidLine === undefined || startLine === undefined) return null;
  const pid = pidLine.trim();
  const startTime = startLine.trim();
  if (!/^[1-9]\d{0,9}$/.test(pid) || !/^\d+$/.test(startTime)) return null;
  return { pid: Number(pid), startTime };
}

/** Opens `file` once so the inode and the content read belong together; null when absent. */
function inspect(file: string): Seen | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return null;
    throw e;
  }
  try {
    const buf = Buffer.alloc(MAX_FILE_BYTES);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, n);
    return { ino: fstatSync(fd).ino, record: parseRecord(buf.toString('utf8', 0, n)) };
  } finally {
    closeSync(fd);
  }
}

/** True when the record names a process that is running now: same pid, same start time. */
function isLive(record: PidRecord | null): record is PidRecord {
  return record !== null && liveStartTime(record.pid) === record.startTime;
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone, or never made: nothing left to clean.
  }
}

/** Makes a rename or link durable; some file systems cannot fsync a directory, which is fine. */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Durability is best effort; the file itself is already complete.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function inodeOf(file: string): number | null {
  try {
    return lstatSync(file).ino;
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return null;
    throw e;
  }
}

/**
 * A PID file: records which process owns a resource (a daemon, a port, a data directory).
 * `acquire` is synchronous so it can run before anything else starts.
 * @example
 * const pidFile = new PidFile('/run/user/1000/app.pid');
 * pidFile.acquire();            // throws PidFileError{kind:'Held'} if another live process has it
 * try { await serve(); } finally { pidFile.release(); }
 */
export class PidFile {
  readonly path: string;
  #owner: PidRecord | undefined;

  constructor(file: string) {
    if (typeof file !== 'string' || file === '') {
      throw new TypeError(`PidFile: path must be a non-empty string, got ${describe(file)}`);
    }
    this.path = path.resolve(file);
  }

  /**
   * Writes `pid` and its start time to the file, unless a live process already holds it.
   * A file left by a dead process, a recycled pid, or garbage is stale and replaced.
   * @example
   * new PidFile('app.pid').acquire();          // this process
   * new PidFile('child.pid').acquire(child.pid); // on behalf of a child
   */
  acquire(pid: number = process.pid): void {
    if (!Number.isSafeInteger(pid) || pid <= 0) {
      throw new TypeError(
        `PidFile.acquire ${this.path}: pid must be a positive integer, got ${pid}`,
      );
    }
    const startTime = processStartTime(pid);
    if (startTime === null) {
      throw new PidFileError('Io', `acquire ${this.path}: pid ${pid} is not running`, {
        path: this.path,
        pid,
      });
    }
    const dir = path.dirname(this.path);
    const name = path.basename(this.path);
    const tmp = path.join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    let tmpMoved = false;
    try {
      mkdirSync(dir, { recursive: true });
      this.#writeTemp(tmp, `${pid}\n${startTime}\n`);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          linkSync(tmp, this.path);
          fsyncDir(dir);
          this.#owner = { pid, startTime };
          return;
        } catch (e) {
          if (errnoOf(e) !== 'EEXIST') throw e;
        }
        const seen = inspect(this.path);
        if (seen === null) continue; // the holder released it between our link and our read
        if (isLive(seen.record)) throw this.#held(seen.record.pid);
        const claimed = this.#replaceStale(seen.ino, tmp);
        if (claimed === 'retry') continue;
        tmpMoved = true;
        fsyncDir(dir);
        // The claim makes this impossible; the check keeps a broken file system from giving
        // two processes the same PID file silently.
        const now = inspect(this.path)?.record ?? null;
        if (now?.pid !== pid || now.startTime !== startTime) throw this.#held(now?.pid);
        this.#owner = { pid, startTime };
        return;
      }
      throw new PidFileError(
        'Io',
        `acquire ${this.path}: the file kept changing under us; gave up after ${MAX_ATTEMPTS} attempts`,
        { path: this.path, pid },
      );
    } catch (e) {
      if (e instanceof PidFileError) throw e;
      throw new PidFileError('Io', `acquire ${this.path}: ${(e as Error).message}`, {
        path: this.path,
        pid,
        cause: e,
      });
    } finally {
      if (!tmpMoved) unlinkQuietly(tmp);
    }
  }

  /**
   * Removes the file if it still records the pid and start time this object acquired with;
   * leaves a file that another process has since taken over. True when removed.
   * @example
   * process.on('exit', () => pidFile.release());
   */
  release(): boolean {
    const owner = this.#owner;
    if (owner === undefined) return false;
    this.#owner = undefined;
    let seen: Seen | null;
    try {
      seen = inspect(this.path);
    } catch (e) {
      throw new PidFileError('Io', `release ${this.path}: ${(e as Error).message}`, {
        path: this.path,
        pid: owner.pid,
        cause: e,
      });
    }
    if (seen?.record?.pid !== owner.pid || seen.record.startTime !== owner.startTime) return false;
    try {
      unlinkSync(this.path);
      return true;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw new PidFileError('Io', `release ${this.path}: ${(e as Error).message}`, {
        path: this.path,
        pid: owner.pid,
        cause: e,
      });
    }
  }

  /**
   * What the file records, or null when it is absent or not a PID file of this format.
   * @example
   * const rec = new PidFile('app.pid').read(); // { pid: 4242, startTime: '1234567' } | null
   */
  read(): PidRecord | null {
    try {
      return inspect(this.path)?.record ?? null;
    } catch (e) {
      throw new PidFileError('Io', `read ${this.path}: ${(e as Error).message}`, {
        path: this.path,
        cause: e,
      });
    }
  }

  #writeTemp(tmp: string, content: string): void {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      const data = Buffer.from(content);
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Replaces the stale file whose inode is `ino` with `tmp`. Hard-linking the file to a claim
   * name derived from its inode is create-exclusive, so of all the acquirers that judged this
   * very file stale only one may replace it; the others see the new file on their next try.
   */
  #replaceStale(ino: number, tmp: string): 'replaced' | 'retry' {
    const claim = path.join(path.dirname(this.path), `.${path.basename(this.path)}.${ino}.claim`);
    try {
      linkSync(this.path, claim);
    } catch (e) {
      const code = errnoOf(e);
      if (code === 'ENOENT') return 'retry';
      if (code !== 'EEXIST') throw e;
      this.#awaitClaim(claim, ino);
      return 'retry';
    }
    try {
      // The claim must be the file we judged (not a newer one that took its place), and that
      // file must still be stale: judging the claimed inode itself closes the gap.
      const claimed = inspect(claim);
      if (claimed === null || claimed.ino !== ino || isLive(claimed.record)) return 'retry';
      renameSync(tmp, this.path);
      return 'replaced';
    } finally {
      unlinkQuietly(claim);
    }
  }

  /** Another acquirer is replacing the same stale file: wait until it is done. */
  #awaitClaim(claim: string, ino: number): void {
    const end = Date.now() + CLAIM_WAIT_MS;
    while (Date.now() < end) {
      if (inodeOf(claim) === null || inodeOf(this.path) !== ino) return;
      sleepSync(1);
    }
    throw new PidFileError(
      'Io',
      `acquire ${this.path}: the stale file is being replaced by another process and ${claim} ` +
        `has stayed for ${CLAIM_WAIT_MS} ms; remove ${claim} if no other process is starting`,
      { path: this.path },
    );
  }

  #held(pid: number | undefined): PidFileError {
    const who = pid === undefined ? 'another process' : `pid ${pid}`;
    return new PidFileError('Held', `acquire ${this.path}: held by ${who}, which is running`, {
      path: this.path,
      ...(pid === undefined ? {} : { pid }),
    });
  }
}
