/**
 * Orphaned child cgroups: those whose owner (the process that spawned into them, named with
 * its start time in the cgroup's name) is gone, because it was SIGKILLed, OOM-killed or the
 * power went. Their members (a shell's background job, a setsid grandchild) outlive the
 * owner's PDEATHSIG, which reaches only direct children. Whoever starts next kills what is
 * left in them and removes them, and says what it cleaned.
 */
import { readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupBase, leaseHolder } from './cgroup.js';
import { limitHierarchies } from './limits.js';
import { pidNamespaceUnavailable, warnNoPidNamespace } from './pidns.js';
import { liveStartTime } from './proc.js';

/**
 * The spawn defaults of a child that must not outlive its spawner, crash included:
 * PDEATHSIG for the child and, where the kernel allows, containment 'pidns': a PID namespace
 * whose init dies with us, and the kernel then kills everything in it at once. Elsewhere (one
 * warning says why) a cgroup for everything it forks, where a writable cgroup v2 exists,
 * reaped by the next `reapOrphanCgroups` if we die first; without one only the process group
 * is left, and a grandchild that calls setsid survives a crash. `pidNamespace: false` is for a
 * tree meant to outlive us (adopted by the next supervisor): it keeps the cgroup. Explicit
 * options win.
 *
 * @example
 * spawn({ ...crashSafeDefaults(), program: 'sh', args: ['-c', 'sleep 60 &'] });
 */
export function crashSafeDefaults(pidNamespace = true): {
  dieWithParent: true;
  containment?: 'cgroup' | 'pidns';
} {
  if (pidNamespace) {
    const why = pidNamespaceUnavailable();
    if (why === null) return { dieWithParent: true, containment: 'pidns' };
    warnNoPidNamespace(why);
  }
  return cgroupBase() === null
    ? { dieWithParent: true }
    : { dieWithParent: true, containment: 'cgroup' };
}

/** One orphaned cgroup found and cleaned by `reapOrphanCgroups`. */
export interface OrphanCgroup {
  path: string;
  /** The pid of the owner that is gone (its start time is in the name). */
  ownerPid: number;
  /** What was still running in it and was SIGKILLed: pid and command name. */
  killed: Array<{ pid: number; comm: string }>;
  /** False when the directory could not be removed (something still inside it). */
  removed: boolean;
}

// core-process.<pid>.<starttime>.<n>; the earlier core-process.<pid>.<n> carries no start time.
const NAME = /^core-process\.([1-9]\d*)\.(?:(\d+)\.)?(\d+)$/;
// How long the kernel gets to empty a killed cgroup before we report it as left behind.
const EMPTY_WAIT_MS = 5000;

function ownerGone(pid: number, startTime: string | undefined): boolean {
  const now = liveStartTime(pid);
  // Without a start time in the name a live pid may be a recycled one: leave it, to be safe.
  return now === null || (startTime !== undefined && now !== startTime);
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => path.join(dir, d.name));
  } catch {
    return [];
  }
}

/** Every pid in `dir` and the cgroups below it. */
function membersOf(dir: string): number[] {
  const own = read(path.join(dir, 'cgroup.procs'))
    .split('\n')
    .filter((l) => l.length > 0)
    .map(Number);
  return [...own, ...subdirs(dir).flatMap(membersOf)];
}

function populated(dir: string): boolean {
  const events = read(path.join(dir, 'cgroup.events'));
  // cgroup v1 (the limit cgroups on a hybrid host) has no cgroup.events: ask for members.
  return events === '' ? membersOf(dir).length > 0 : /^populated 1$/m.test(events);
}

/** SIGKILL to the whole subtree: cgroup.kill (5.14+), else frozen and killed one by one. */
function killAll(dir: string): void {
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
    return;
  } catch {
    // Before 5.14: freeze so nothing forks between the listing and the kill.
  }
  try {
    writeFileSync(path.join(dir, 'cgroup.freeze'), '1');
  } catch {
    // No freezer either: two passes catch a fork in between.
  }
  for (let pass = 0; pass < 2; pass++) {
    for (const pid of membersOf(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
  }
}

/** Removes `dir` and the cgroups below it, deepest first; true when it is gone. */
function removeTree(dir: string): boolean {
  for (const sub of subdirs(dir)) removeTree(sub);
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Finds the child cgroups under our cgroup v2 directory whose owner is gone, SIGKILLs what is
 * still in them (the whole subtree, escaped process groups and sessions included), and removes
 * them. A live owner's cgroups are never touched: the owner is told apart from a later process
 * with its pid by the start time in the name. Nor is a cgroup leased to a live child (see
 * ChildCgroup.leaseTo), or a v1 limits cgroup holding such a child. Also looks at the v1
 * hierarchies that carry `limits` on a hybrid host (memory, pids, cpu). [] when there is
 * nothing to look at.
 *
 * @example
 * for (const o of await reapOrphanCgroups()) {
 *   console.error(`removed ${o.path} of dead pid ${o.ownerPid}; killed ${o.killed.length}`);
 * }
 */
export async function reapOrphanCgroups(options: { dir?: string } = {}): Promise<OrphanCgroup[]> {
  // By default: our cgroup v2 directory, and the v1 hierarchies that carry `limits`.
  const v2 = options.dir ?? cgroupBase();
  const bases = options.dir !== undefined ? [options.dir] : [v2, ...limitHierarchies()];
  const orphans: OrphanCgroup[] = [];
  // Children meant to outlive their spawner (a supervisor's, to be adopted) hold a lease on
  // their v2 cgroup; their trees live while they do, v1 limits cgroups included (cgroup v1
  // has no user xattrs to carry a lease of its own).
  const holders = new Set<number>();
  const leased = new Set<string>();
  for (const dir of v2 === null ? [] : subdirs(v2)) {
    const holder = leaseHolder(dir);
    if (holder === null) continue;
    holders.add(holder);
    leased.add(dir);
  }
  for (const base of bases) {
    if (base === null) continue;
    for (const dir of subdirs(base)) {
      const m = NAME.exec(path.basename(dir));
      if (m === null || !ownerGone(Number(m[1]), m[2])) continue;
      const members = membersOf(dir);
      if (leased.has(dir) || members.some((pid) => holders.has(pid))) continue;
      const killed = members.map((pid) => ({
        pid,
        comm: read(`/proc/${pid}/comm`).trim() || '?',
      }));
      if (killed.length > 0) killAll(dir);
      orphans.push({ path: dir, ownerPid: Number(m[1]), killed, removed: false });
    }
  }
  const end = Date.now() + EMPTY_WAIT_MS;
  for (const o of orphans) {
    while (populated(o.path) && Date.now() < end) await sleep(10);
    o.removed = removeTree(o.path);
  }
  return orphans;
}

/**
 * One line per cleaned cgroup, for a log or stderr.
 *
 * @example
 * for (const line of describeOrphans(await reapOrphanCgroups())) process.stderr.write(`${line}\n`);
 * // core-process: orphan cgroup /sys/fs/cgroup/unified/core-process.41.8812.1 of gone pid 41: killed 130 (sleep), removed
 */
export function describeOrphans(orphans: OrphanCgroup[]): string[] {
  return orphans.map((o) => {
    const killed =
      o.killed.length === 0
        ? 'empty'
        : `killed ${o.killed.map((k) => `${k.pid} (${k.comm})`).join(', ')}`;
    return `core-process: orphan cgroup ${o.path} of gone pid ${o.ownerPid}: ${killed}, ${o.removed ? 'removed' : 'NOT removed (still populated)'}`;
  });
}
