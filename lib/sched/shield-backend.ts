/**
 * What shieldCpus (shield.ts) needs from a cpuset hierarchy, implemented once for cgroup v1
 * (shield-v1.ts: cpu_exclusive) and once for cgroup v2 (shield-v2.ts: cpuset.cpus.partition),
 * and the state a holder writes down so another process can undo its shield.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { ProcessError } from '../errors.js';

/** A mount of /proc/self/mountinfo: where, its filesystem type and its super options. */
export interface MountEntry {
  mountPoint: string;
  fstype: string;
  superOptions: string[];
}

/**
 * The mounts of this process (mountinfo(5): fields before " - ", then fstype, source and super
 * options; spaces in paths are escaped as \040). Empty when /proc is unreadable.
 * @example mounts().filter((m) => m.fstype === 'cgroup2')
 */
export function mounts(): MountEntry[] {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: MountEntry[] = [];
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    const mountPoint = left?.split(' ')[4]?.replace(/\\040/g, ' ');
    if (!right || mountPoint === undefined) continue;
    const [fstype = '', , opts = ''] = right.split(' ');
    out.push({ mountPoint, fstype, superOptions: opts.split(',') });
  }
  return out;
}

export type ShieldScope = 'subtree' | 'system';

/** What a holder writes down so a later process can undo its shield if it dies. */
export interface ShieldState {
  /** The cgroup version of the hierarchy it was made on (1 when absent: older state files). */
  version?: 1 | 2;
  mount?: string;
  owner: number;
  ownerStart: string;
  base: string;
  shieldDir: string;
  /** null: v2 'system' scope, where nothing is moved (the partition takes the CPUs). */
  systemDir: string | null;
  /** task -> the cgroup path (relative to the mount) it came from. */
  origins: Record<string, string>;
  /** IRQ -> its smp_affinity_list before. */
  irqs: Record<string, string>;
  /** v2: we wrote +cpuset into base's cgroup.subtree_control and take it back. */
  enabledCpuset?: boolean;
}

export interface Made {
  exclusive: boolean;
  /** v2: what cpuset.cpus.partition reads back ('isolated', 'root', 'member'); v1: null. */
  partition: string | null;
}

export interface ShieldBackend {
  readonly version: 1 | 2;
  readonly mount: string;
  /** The cgroup (relative to the mount) the shield is made under for this scope. */
  base(scope: ShieldScope): string;
  /** The CPUs that cgroup may hand out. */
  cpus(base: string): number[];
  /** The cgroup (relative) a task is in now, or null once it is gone. */
  locate(id: number): string | null;
  /** Makes the shield (and system) cgroups with these CPUs; records what to undo in state. */
  create(state: ShieldState, wanted: number[], rest: number[], scope: ShieldScope): Made;
  /** The tasks of the scope to move off the shielded CPUs. */
  candidates(scope: ShieldScope, base: string): number[];
  /** Moves one task into dir (absolute); null, or the errno code it failed with. */
  move(dir: string, id: number): string | null;
  /** Why this id cannot be moved on its own here, or null. */
  refuse(id: number): string | null;
  /** The tasks in dir (absolute), [] when it is gone. */
  members(dir: string): number[];
  /** Removes the cgroups and puts back the files create() changed; best effort. */
  teardown(state: ShieldState): void;
}

export function read(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/** Writes an id into a cgroup file (tasks, cgroup.procs): null, or the errno code. */
export function writeId(file: string, id: number): string | null {
  try {
    writeFileSync(file, String(id));
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

export function ids(file: string): number[] {
  try {
    return read(file).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function parseList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

export function shieldFailure(what: string, why: string, code?: string): ProcessError {
  const kind = code === 'EACCES' || code === 'EPERM' ? 'PermissionDenied' : 'Unsupported';
  return new ProcessError(kind, `shieldCpus: ${what}: ${why}${code ? ` (${code})` : ''}`, {
    code,
  });
}

/** Every process below `root` (itself included), by the ppid tree. */
export function subtreeProcesses(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [root];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      // gone
    }
  }
  const pids: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    pids.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return pids;
}
