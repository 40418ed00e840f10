/**
 * PID files that cannot be half-written, taken twice, or stolen by a recycled pid. The file
 * holds the pid in ASCII decimal and a newline, nothing else (FHS 3.0, /run), so
 * `kill $(cat app.pid)` signals that one process. A recycled pid is told apart by time: the
 * writer was running when the file was written, so a live process that started after the
 * file's mtime is someone else. Files of the earlier two-line format (pid, then /proc start
 * time) are still read and judged by that start time.
 * The file is created by link(2) from a fully written temp file (create-exclusive, atomic),
 * and a stale one is replaced only by the acquirer that first claims its inode, so two
 * processes that both find it stale cannot both win.
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
import { liveStartTime, processStartTime, startedAfter } from '../process/proc.js';

export { processStartTime } from '../process/proc.js';

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
  /** Only in files of the earlier two-line format: field 22 of /proc/<pid>/stat. */
  startTime?: string;
}

interface Seen {
  ino: number;
  mtimeMs: number;
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

// One line (`4242\n`, the FHS format we write, or `echo $$ > file`) or the earlier two
// (`4242\n88606\n`); blanks around each line are tolerated, as the earlier reader did.
function parseRecord(text: string): PidRecord | null {
  const lines = text.trim().split('\n');
  const pid = lines[0]?.trim() ?? '';
  if (lines.length > 2 || !/^[1-9]\d{0,9}$/.test(pid)) return null;
  if (lines.length === 1) return { pid: Number(pid) };
  const startTime = lines[1]?.trim() ?? '';
  return /^\d+$/.test(startTime) ? { pid: Number(pid), startTime } : null;
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
    const st = fstatSync(fd);
    return { ino: st.ino, mtimeMs: st.mtimeMs, record: parseRecord(buf.toString('utf8', 0, n)) };
  } finally {
    closeSync(fd);
  }
}

/**
 * The start time of the live process that wrote `seen`, or null when the file is stale: no
 * such pid, a zombie, or a pid recycled since (a two-line file names the start time; a
 * one-line file was written while its process ran, so one that started later is another).
 */
function liveWriter(seen: Seen | null): string | null {
  const record = seen?.record;
  if (seen == null || record == null) return null;
  const now = liveStartTime(record.pid);
  if (now === null) return null;
  if (record.startTime !== undefined) return now === record.startTime ? now : null;
  return startedAfter(now, seen.mtimeMs) ? null : now;
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
  // What we wrote: the pid, and the inode that tells our file from one written over it.
  #owner: { pid: number; ino: number } | undefined;

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
    if (processStartTime(pid) === null) {
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
      const ino = this.#writeTemp(tmp, `${pid}\n`);
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          linkSync(tmp, this.path);
          fsyncDir(dir);
          this.#owner = { pid, ino };
          return;
        } catch (e) {
          if (errnoOf(e) !== 'EEXIST') throw e;
        }
        const seen = inspect(this.path);
        if (seen === null) continue; // the holder released it between our link and our read
        if (liveWriter(seen) !== null) throw this.#held(seen.record?.pid);
        const claimed = this.#replaceStale(seen.ino, tmp);
        if (claimed === 'retry') continue;
        tmpMoved = true;
        fsyncDir(dir);
        // The claim makes this impossible; the check keeps a broken file system from giving
        // two processes the same PID file silently.
        const now = inspect(this.path);
        if (now?.ino !== ino) throw this.#held(now?.record?.pid);
        this.#owner = { pid, ino };
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
    if (seen?.ino !== owner.ino || seen.record?.pid !== owner.pid) return false;
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
   * Takes over the file another process wrote for live `pid` (a supervisor adopting the child
   * its predecessor recorded), so that `release()` removes it later. False when the file does
   * not record `pid` or is stale.
   * @example
   * const record = new PidFile('web.child.pid');
   * if (!record.takeOver(4250)) record.acquire(4250);
   */
  takeOver(pid: number): boolean {
    let seen: Seen | null;
    try {
      seen = inspect(this.path);
    } catch {
      return false;
    }
    if (seen === null || seen.record?.pid !== pid || liveWriter(seen) === null) return false;
    this.#owner = { pid, ino: seen.ino };
    return true;
  }

  /**
   * What the file records, or null when it is absent or not a PID file of this format.
   * @example
   * const rec = new PidFile('app.pid').read(); // { pid: 4242 } | null
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

  /**
   * The live process that wrote the file, with its /proc start time; null when the file is
   * absent, unreadable as a PID file, or stale (that process is gone or its pid recycled).
   * @example
   * const owner = new PidFile('/run/app.pid').owner(); // { pid: 4242, startTime: '1234567' } | null
   * if (owner !== null) process.kill(owner.pid, 'SIGTERM');
   */
  owner(): { pid: number; startTime: string } | null {
    let seen: Seen | null;
    try {
      seen = inspect(this.path);
    } catch (e) {
      throw new PidFileError('Io', `owner ${this.path}: ${(e as Error).message}`, {
        path: this.path,
        cause: e,
      });
    }
    const startTime = liveWriter(seen);
    return seen?.record == null || startTime === null ? null : { pid: seen.record.pid, startTime };
  }

  /** Writes the temp file; its inode, which link and rename carry over to the PID file. */
  #writeTemp(tmp: string, content: string): number {
    const fd = openSync(tmp, 'wx', 0o644);
    try {
      const data = Buffer.from(content);
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
      return fstatSync(fd).ino;
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
      if (claimed === null || claimed.ino !== ino || liveWriter(claimed) !== null) return 'retry';
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
