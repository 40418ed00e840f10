/**
 * The daemon registry: one JSON file per running daemon in a state directory, so a CLI or an
 * API can list what runs without asking each daemon. Files are written atomically; entries
 * whose process is gone (or whose pid now belongs to another process) are pruned on read; a
 * corrupt file is reported and skipped, never fatal.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { describe } from '../errors.js';
import { liveStartTime, processStartTime } from '../process/proc.js';

export interface DaemonEntry {
  code: string;
  daemon: string;
  pid: number;
  /** ISO 8601. */
  startedAt: string;
  /** Field 22 of /proc/<pid>/stat; tells the daemon apart from a later process with its pid. */
  startTime?: string;
  /** Health endpoint url. */
  health?: string;
  project?: string;
  binary?: string;
}

export interface RegistryProblem {
  file: string;
  message: string;
}

export interface DaemonRegistryOptions {
  /** Where corrupt files are reported; default one line on stderr. */
  onProblem?: (problem: RegistryProblem) => void;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]*$/;
const SEPARATOR = '--';

const entrySchema = z.object({
  code: z.string().regex(NAME),
  daemon: z.string().regex(NAME),
  pid: z.number().int().positive(),
  startedAt: z.iso.datetime({ offset: true }),
  startTime: z.string().regex(/^\d+$/).optional(),
  health: z.string().optional(),
  project: z.string().optional(),
  binary: z.string().optional(),
});

/**
 * Checks a daemon code or name: it becomes part of a file name. '--' is refused too, because
 * it separates code from daemon in the file name and would let two entries share one file.
 * @example
 * assertDaemonName('code', 'my-app'); // ok
 * assertDaemonName('daemon', '../x');  // throws TypeError naming '../x'
 */
export function assertDaemonName(field: 'code' | 'daemon', value: unknown): string {
  if (typeof value !== 'string' || !NAME.test(value) || value.includes(SEPARATOR)) {
    throw new TypeError(
      `daemon registry: ${field} ${describe(value)} is not a valid name ` +
        `(letters, digits, '.', '_', '-'; starting with a letter or digit; no '--')`,
    );
  }
  return value;
}

/**
 * Where the registry lives by default: $XDG_STATE_HOME/core-process/daemons, else
 * ~/.local/state/core-process/daemons.
 * @example
 * defaultRegistryDir(); // '/home/me/.local/state/core-process/daemons'
 */
export function defaultRegistryDir(): string {
  const xdg = process.env.XDG_STATE_HOME;
  // The XDG spec says a relative value is invalid and must be ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.local', 'state');
  return path.join(base, 'core-process', 'daemons');
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}

type Loaded =
  | { kind: 'absent' }
  | { kind: 'corrupt'; message: string }
  | { kind: 'entry'; entry: DaemonEntry; ino: number };

/**
 * The registry of running daemons, one `<code>--<daemon>.json` file each.
 * @example
 * const registry = new DaemonRegistry();
 * registry.register({ code: 'app', daemon: 'web', pid: process.pid, startedAt: new Date().toISOString() });
 * registry.list(); // [{ code: 'app', daemon: 'web', pid: 4242, startTime: '1234567', ... }]
 */
export class DaemonRegistry {
  readonly dir: string;
  readonly #onProblem: (problem: RegistryProblem) => void;

  constructor(dir: string = defaultRegistryDir(), options: DaemonRegistryOptions = {}) {
    this.dir = path.resolve(dir);
    this.#onProblem =
      options.onProblem ??
      ((p) => process.stderr.write(`core-process: daemon registry: ${p.file}: ${p.message}\n`));
  }

  /**
   * Records a daemon, replacing any entry with the same code and daemon. Fills `startTime`
   * from /proc when absent; the pid must be running.
   * @example
   * registry.register({ code: 'app', daemon: 'web', pid, startedAt: new Date().toISOString(), health: url });
   */
  register(entry: DaemonEntry): void {
    assertDaemonName('code', entry?.code);
    assertDaemonName('daemon', entry.daemon);
    const file = this.#file(entry.code, entry.daemon);
    let startTime = entry.startTime;
    if (startTime === undefined) {
      startTime = processStartTime(entry.pid) ?? undefined;
      if (startTime === undefined) {
        throw new Error(
          `DaemonRegistry.register ${entry.code}/${entry.daemon}: pid ${entry.pid} is not running`,
        );
      }
    }
    const parsed = entrySchema.safeParse({ ...entry, startTime });
    if (!parsed.success) {
      throw new TypeError(
        `DaemonRegistry.register ${entry.code}/${entry.daemon}: ${describeIssues(parsed.error)}`,
      );
    }
    mkdirSync(this.dir, { recursive: true });
    const tmp = path.join(
      this.dir,
      `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    try {
      const fd = openSync(tmp, 'wx', 0o644);
      try {
        const data = Buffer.from(`${JSON.stringify(parsed.data, null, 2)}\n`);
        for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        // Never created, or already renamed.
      }
      throw new Error(`DaemonRegistry.register ${file}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Removes a daemon's entry; true when there was one.
   * @example
   * registry.unregister('app', 'web');
   */
  unregister(code: string, daemon: string): boolean {
    const file = this.#file(assertDaemonName('code', code), assertDaemonName('daemon', daemon));
    try {
      unlinkSync(file);
      return true;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      throw new Error(`DaemonRegistry.unregister ${file}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * The entry of a running daemon, or null. An entry whose process is gone or recycled is
   * deleted; a corrupt one is reported and left in place.
   * @example
   * const web = registry.get('app', 'web');
   * if (web?.health) await waitForHealth(web.health);
   */
  get(code: string, daemon: string): DaemonEntry | null {
    const file = this.#file(assertDaemonName('code', code), assertDaemonName('daemon', daemon));
    return this.#live(file);
  }

  /**
   * Every running daemon, sorted by code then daemon. Prunes dead and recycled entries;
   * reports corrupt files through `onProblem` and skips them.
   * @example
   * for (const d of registry.list()) console.log(`${d.code}/${d.daemon} pid ${d.pid} ${d.health ?? ''}`);
   */
  list(): DaemonEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw new Error(`DaemonRegistry.list ${this.dir}: ${(e as Error).message}`, { cause: e });
    }
    const out: DaemonEntry[] = [];
    for (const name of names) {
      // Dot files are temp files of writers in progress.
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      const entry = this.#live(path.join(this.dir, name));
      if (entry !== null) out.push(entry);
    }
    return out.sort((a, b) =>
      a.code === b.code ? compare(a.daemon, b.daemon) : compare(a.code, b.code),
    );
  }

  #file(code: string, daemon: string): string {
    return path.join(this.dir, `${code}${SEPARATOR}${daemon}.json`);
  }

  /** Loads `file`, reporting corruption and pruning a dead entry; the live entry or null. */
  #live(file: string, retried = false): DaemonEntry | null {
    const loaded = this.#load(file);
    if (loaded.kind === 'absent') return null;
    if (loaded.kind === 'corrupt') {
      this.#onProblem({ file, message: loaded.message });
      return null;
    }
    const { entry, ino } = loaded;
    const now = liveStartTime(entry.pid);
    const alive = now !== null && (entry.startTime === undefined || entry.startTime === now);
    if (alive) return entry;
    // A newer registration took the dead one's place while we looked: judge that one instead.
    if (this.#prune(file, ino) && !retried) return this.#live(file, true);
    return null;
  }

  #load(file: string): Loaded {
    let text: string;
    let ino: number;
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return { kind: 'absent' };
      return { kind: 'corrupt', message: `cannot open: ${(e as Error).message}` };
    }
    try {
      ino = fstatSync(fd).ino;
      text = readFileSync(fd, 'utf8');
    } catch (e) {
      return { kind: 'corrupt', message: `cannot read: ${(e as Error).message}` };
    } finally {
      closeSync(fd);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return { kind: 'corrupt', message: `not JSON: ${(e as Error).message}` };
    }
    const parsed = entrySchema.safeParse(json);
    if (!parsed.success) {
      return { kind: 'corrupt', message: `not a daemon entry: ${describeIssues(parsed.error)}` };
    }
    const entry = parsed.data;
    const expected = `${entry.code}${SEPARATOR}${entry.daemon}.json`;
    if (path.basename(file) !== expected) {
      return {
        kind: 'corrupt',
        message: `holds ${entry.code}/${entry.daemon}, expected in ${expected}`,
      };
    }
    return { kind: 'entry', entry, ino };
  }

  /**
   * Deletes the dead entry `file` if it is still the inode we judged. Moving it aside first
   * and checking makes a fresh registration that replaced it in the meantime survive: if we
   * moved that one, it goes back, unless an even newer one has already taken its place.
   * True when the file now holds a different entry than the one judged dead.
   */
  #prune(file: string, ino: number): boolean {
    const aside = path.join(
      this.dir,
      `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.prune`,
    );
    try {
      renameSync(file, aside);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return false;
      this.#onProblem({ file, message: `cannot prune dead entry: ${(e as Error).message}` });
      return false;
    }
    try {
      if (statSync(aside).ino === ino) return false;
      try {
        linkSync(aside, file);
      } catch (e) {
        if (errnoOf(e) !== 'EEXIST') throw e;
      }
      return true;
    } catch (e) {
      this.#onProblem({
        file,
        message: `cannot restore entry while pruning: ${(e as Error).message}`,
      });
      return false;
    } finally {
      try {
        unlinkSync(aside);
      } catch {
        // Nothing more to undo.
      }
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
