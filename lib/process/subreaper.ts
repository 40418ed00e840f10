/**
 * Subreaper mode (process-wide opt-in): with PR_SET_CHILD_SUBREAPER, orphans from our
 * children's trees are re-parented to this process instead of init, and this module reaps
 * them so they do not linger as zombies. It reaps only what it can prove came from a tree we
 * started (its process group or its cgroup, both still readable on a zombie), never a pid
 * we watch ourselves, so `child_process`'s children keep their exit codes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { errnoName, ProcessError } from '../errors.js';
import { native } from '../native.js';

const MAX_TREES = 4096;
const treeGroups = new Set<number>();
const treeCgroups = new Set<string>();
const watched = new Set<number>();
let enabled = false;
let scheduled = false;
let reaped = 0;

function remember<T>(set: Set<T>, value: T): void {
  set.add(value);
  if (set.size > MAX_TREES) set.delete(set.values().next().value as T);
}

/** @internal True once enableSubreaper() ran: spawn() only tracks trees from then on. */
export function subreaperEnabled(): boolean {
  return enabled;
}

/** @internal spawn() tells us about each child: its pid (ours to watch) and its tree. */
export function trackTree(pid: number, pgid: number | null, cgroupName: string | null): void {
  watched.add(pid);
  if (pgid !== null) remember(treeGroups, pgid);
  if (cgroupName !== null) remember(treeCgroups, `0::/${cgroupName}`);
}

/** @internal The child was reaped by its own watcher. */
export function untrackChild(pid: number): void {
  watched.delete(pid);
}

function zombieFromOurTrees(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (f[0] !== 'Z' || Number(f[1]) !== process.pid || watched.has(pid)) return false;
    if (treeGroups.has(Number(f[2]))) return true;
    // A cgroup removed after its last member exited reads back as "<path> (deleted)".
    const cgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::/'))
      ?.replace(/ \(deleted\)$/, '');
    return (
      cgroup !== undefined &&
      [...treeCgroups].some((c) => cgroup === c || cgroup.startsWith(`${c}/`))
    );
  } catch {
    return false;
  }
}

function scan(): void {
  scheduled = false;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (zombieFromOurTrees(pid) && native.reapZombie(pid) === 1) reaped++;
  }
}

/**
 * Makes this process the subreaper of everything it spawns from now on: orphaned
 * grandchildren come to us (not to init) and are reaped here. Idempotent.
 *
 * @example
 * enableSubreaper();
 * spawn({ program: 'sh', args: ['-c', 'sleep 1 &'], processGroup: true }); // the sleep is reaped by us
 */
export function enableSubreaper(): void {
  if (enabled) return;
  const r = native.setChildSubreaper(true);
  if (r !== 0) {
    const code = errnoName(-r);
    throw new ProcessError(
      code === 'ENOTSUP' ? 'Unsupported' : 'SpawnFailed',
      `enableSubreaper: prctl(PR_SET_CHILD_SUBREAPER) failed: ${code}`,
      {
        code,
        errno: -r,
        syscall: 'prctl',
      },
    );
  }
  enabled = true;
  // One scan per burst of SIGCHLDs; the signal handler itself stays trivial.
  process.on('SIGCHLD', () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(scan);
  });
}

/**
 * Orphans reaped so far in subreaper mode.
 *
 * @example
 * subreaperStats(); // { enabled: true, reaped: 3 }
 */
export function subreaperStats(): { enabled: boolean; reaped: number } {
  return { enabled, reaped };
}
