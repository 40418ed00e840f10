/**
 * cgroup v2 containment: one fresh cgroup per contained child, joined by the child itself
 * before exec, so nothing it forks (a shell's jobs, a daemon that calls setsid) can leave.
 * The tree is signalled through the cgroup, not through pids: `cgroup.kill` for SIGKILL
 * (Linux 5.14+), freeze-signal-thaw for anything else, so no member can fork between our
 * reading the list and signalling it. The directory goes once the last member has exited.
 */
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { native } from '../native.js';
import { liveStartTime, processStartTime } from './proc.js';
import { type SignalName, signalNumber } from './signals.js';

let base: string | null | undefined;
let counter = 0;

function unifiedMount(): string | null {
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (type === 'cgroup2' && mountPoint !== undefined) return mountPoint.replace(/\\040/g, ' ');
  }
  return null;
}

/**
 * The cgroup v2 directory new child cgroups go under: our own cgroup on the unified
 * hierarchy (pure v2 at /sys/fs/cgroup, or the `unified` mount of a hybrid layout), when we
 * may create directories there; null otherwise. Found once per process.
 *
 * @example
 * cgroupBase(); // '/sys/fs/cgroup/unified' on a hybrid host where we are in the root
 */
export function cgroupBase(): string | null {
  if (base !== undefined) return base;
  base = null;
  try {
    const mount = unifiedMount();
    const own = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    if (mount === null || own === undefined) return null;
    const dir = path.join(mount, own.slice(3));
    accessSync(dir, constants.W_OK);
    base = dir;
  } catch {
    base = null;
  }
  return base;
}

const pendingRemoval = new Set<ChildCgroup>();
// A child cgroup's name (see childCgroupName).
const NAME_TAIL = /^core-process\.\d+\.(?:\d+\.)?(\d+)$/;
/** The extended attribute naming the child a cgroup is leased to: `<pid>.<starttime>`. */
export const LEASE_XATTR = 'user.core_process.lease';

/**
 * The live process a cgroup is leased to (see ChildCgroup.leaseTo), or null.
 * @example
 * leaseHolder('/sys/fs/cgroup/unified/core-process.4242.1234567.1'); // 4250
 */
export function leaseHolder(dir: string): number | null {
  const v = native.getXattr(dir, LEASE_XATTR);
  if (typeof v !== 'string') return null;
  const m = /^(\d+)\.(\d+)$/.exec(v);
  if (m === null) return null;
  const pid = Number(m[1]);
  return liveStartTime(pid) === m[2] ? pid : null;
}
let exitHooked = false;

/** One child's cgroup: its directory and an open O_DIRECTORY fd the child joins through. */
export class ChildCgroup {
  readonly #path: string;
  #fd: number | null;
  #removed = false;

  /** @internal Use createChildCgroup or openChildCgroup. */
  constructor(dir: string, fd: number | null) {
    this.#path = dir;
    this.#fd = fd;
  }

  /** The directory. */
  get path(): string {
    return this.#path;
  }

  /** The directory fd for the spawn request; closed by `release()` once the child runs. */
  get fd(): number {
    if (this.#fd === null) throw new Error(`cgroup ${this.path}: already released`);
    return this.#fd;
  }

  /** Closes our directory fd (the child has joined, or the spawn failed). */
  releaseFd(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /**
   * Leases the tree to `pid` (the child it was made for): an extended attribute on the
   * directory records the child's pid and start time, and `reapOrphanCgroups` spares a
   * cgroup whose owner is gone while its lease holder lives, cleaning it once that child is
   * gone too. A supervisor whose children must outlive it, to be adopted by the next one,
   * does this. (cgroup v2 directories cannot be renamed, so the name keeps the spawner.)
   * Returns false when the attribute could not be set (kernel before 5.9: no user xattrs).
   *
   * @example
   * cg.leaseTo(child.pid); // user.core_process.lease = '4250.1234599'
   */
  leaseTo(pid: number): boolean {
    const start = processStartTime(pid);
    if (start === null) return false;
    return native.setXattr(this.#path, LEASE_XATTR, `${pid}.${start}`) === 0;
  }

  /** Pids in the cgroup now. */
  members(): number[] {
    try {
      return readFileSync(path.join(this.path, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map(Number);
    } catch {
      return [];
    }
  }

  /** True while any process is inside (`populated 1` in cgroup.events). */
  populated(): boolean {
    try {
      return /^populated 1$/m.test(readFileSync(path.join(this.path, 'cgroup.events'), 'utf8'));
    } catch {
      return false;
    }
  }

  /**
   * Signals every member. SIGKILL goes through cgroup.kill, which the kernel applies to the
   * whole cgroup at once; other signals are sent with the cgroup frozen, so no member forks
   * a new one between the listing and the signal. Returns how many processes were signalled.
   *
   * @example
   * cg.signal('SIGTERM'); // 3
   */
  signal(sig: SignalName): number {
    const members = this.members();
    if (members.length === 0) return 0;
    if (sig === 'SIGKILL') {
      try {
        writeFileSync(path.join(this.path, 'cgroup.kill'), '1');
        return members.length;
      } catch {
        // before 5.14: fall through to freeze and kill one by one
      }
    }
    const num = signalNumber(sig);
    const freeze = path.join(this.path, 'cgroup.freeze');
    let frozen = false;
    try {
      writeFileSync(freeze, '1');
      frozen = true;
    } catch {
      // no freezer (pre-5.2): signal what we see, twice, to catch a fork in between
    }
    let sent = 0;
    for (let pass = 0; pass < (frozen ? 1 : 2); pass++) {
      for (const pid of this.members()) {
        try {
          process.kill(pid, num);
          sent++;
        } catch {
          // exited meanwhile
        }
      }
    }
    if (frozen) writeFileSync(freeze, '0');
    return sent;
  }

  /** Removes the directory when it is empty; true once it is gone. */
  remove(): boolean {
    if (this.#removed) return true;
    this.releaseFd();
    try {
      rmdirSync(this.path);
      this.#removed = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.#removed = true;
    }
    return this.#removed;
  }

  /**
   * Removes the directory as soon as the last member has gone (polls cgroup.events). The poll
   * does not keep the process alive; an empty directory still pending at exit is removed then,
   * so a process that stops its tree and exits at once leaves no cgroup behind.
   */
  removeWhenEmpty(intervalMs = 100): void {
    const attempt = () => {
      if (!this.populated() && this.remove()) {
        pendingRemoval.delete(this);
        return;
      }
      setTimeout(attempt, intervalMs).unref();
    };
    if (pendingRemoval.size === 0 && !exitHooked) {
      exitHooked = true;
      process.once('exit', () => {
        for (const cg of pendingRemoval) cg.remove();
      });
    }
    pendingRemoval.add(this);
    attempt();
  }
}

// With our pid it names this process for the life of the system, so a cgroup named after
// both is never taken for a later owner's that reuses the pid.
let ownStart: string | undefined;

/**
 * The name of the `n`th child cgroup of process `pid` started at `startTime`:
 * `core-process.<pid>.<startTime>.<n>`. Whoever starts next reads the owner back from it and
 * removes the cgroups of owners that are gone (see `reapOrphanCgroups`).
 *
 * @example
 * childCgroupName(4242, '1234567', 1); // 'core-process.4242.1234567.1'
 */
export function childCgroupName(pid: number, startTime: string, n: number): string {
  return `core-process.${pid}.${startTime}.${n}`;
}

/**
 * Makes a fresh cgroup for one child, or null when no writable cgroup v2 is available.
 *
 * @example
 * const cg = createChildCgroup(); // ChildCgroup at /sys/fs/cgroup/unified/core-process.4242.1234567.1
 */
export function createChildCgroup(): ChildCgroup | null {
  const dir = cgroupBase();
  if (dir === null) return null;
  ownStart ??= processStartTime(process.pid) ?? '0';
  const name = path.join(dir, childCgroupName(process.pid, ownStart, ++counter));
  try {
    mkdirSync(name);
    return new ChildCgroup(name, openSync(name, constants.O_RDONLY | constants.O_DIRECTORY));
  } catch {
    return null;
  }
}

/**
 * The child cgroup (one of ours, by its name) that `pid` is in now, or null: a supervisor
 * adopting a child its predecessor left running takes over its tree through it.
 *
 * @example
 * openChildCgroup(4250)?.path; // '/sys/fs/cgroup/unified/core-process.4250.1234599.1'
 */
export function openChildCgroup(pid: number): ChildCgroup | null {
  const mount = unifiedMount();
  if (mount === null) return null;
  let line: string | undefined;
  try {
    line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
  } catch {
    return null;
  }
  if (line === undefined || !NAME_TAIL.test(path.basename(line.slice(3)))) return null;
  return new ChildCgroup(path.join(mount, line.slice(3)), null);
}
