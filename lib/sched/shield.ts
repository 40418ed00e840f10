/**
 * shieldCpus: what `cset shield` does, on the cgroup v1 cpuset hierarchy. Two sibling cpusets
 * are made under ours: a shield holding the shielded CPUs (cpu_exclusive where the kernel
 * allows it) and a system set holding the rest; the movable tasks of the chosen scope go to
 * the system set, and tasks the caller names (`add`) go to the shield. `release()` restores
 * every task and file it changed; it also runs at exit and on SIGTERM, and a state file lets
 * the next shieldCpus (or recoverShields) undo a holder that was SIGKILLed.
 *
 * Scopes: 'subtree' (default) is this process and its descendants, never anything else, so
 * tests and CI can use it on a shared machine (our own cpuset cgroup is often the root one,
 * where "our cgroup and below" would be every task); 'system' is every task of our cpuset
 * cgroup, as `cset shield` moves them, plus IRQ steering: tried by hand, never by the tests.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, invalid, ProcessError } from '../errors.js';
import { checkCpus } from './cpus.js';

export type ShieldScope = 'subtree' | 'system';

export interface ShieldOptions {
  /** 'subtree' (default): this process and its descendants; 'system': every task of our cpuset. */
  scope?: ShieldScope;
}

export interface ShieldProblem {
  /** A tid, or an IRQ number for `irqs`. */
  id: number;
  /** What it is (`comm`, or the IRQ's /proc/irq/N name) and why it stayed. */
  what: string;
  why: string;
}

export interface CpuShield {
  readonly cpus: readonly number[];
  readonly scope: ShieldScope;
  /** The shield's cpuset directory: write a tid to its `tasks` to move it in (or add()). */
  readonly shieldPath: string;
  /** Where the moved tasks run now. */
  readonly systemPath: string;
  /** True when the shield is cpu_exclusive (no other cpuset may use its CPUs). */
  readonly exclusive: boolean;
  /** Tasks moved off the shielded CPUs. */
  readonly moved: readonly number[];
  /** Tasks that could not move (kernel threads, per-CPU threads), listed, not hidden. */
  readonly unmovable: readonly ShieldProblem[];
  /** IRQs steered off the shield ('system' scope), and those that refused. */
  readonly irqsMoved: readonly number[];
  readonly irqsUnmovable: readonly ShieldProblem[];
  /** Moves a task (pid or tid: one task) into the shield. */
  add(id: number): void;
  /** Puts every task, IRQ and file back as it was; idempotent. */
  release(): Promise<void>;
}

/** What a holder writes down so a later process can undo its shield if it dies. */
interface ShieldState {
  owner: number;
  ownerStart: string;
  base: string;
  shieldDir: string;
  systemDir: string;
  /** tid -> the cpuset path (relative to the mount) it came from. */
  origins: Record<string, string>;
  /** IRQ -> its smp_affinity_list before. */
  irqs: Record<string, string>;
}

const STATE_DIR = path.join(os.tmpdir(), 'core-process-shields');

function read(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/** The cgroup v1 cpuset mount point, or null. */
export function cpusetMount(): string | null {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const [fstype, , opts] = right.split(' ');
    if (fstype === 'cgroup' && opts?.split(',').includes('cpuset')) {
      return left.split(' ')[4] ?? null;
    }
  }
  return null;
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function cpusetOf(tid: number): string | null {
  try {
    return read(`/proc/${tid}/cpuset`);
  } catch {
    return null;
  }
}

function commOf(tid: number): string {
  try {
    return read(`/proc/${tid}/comm`);
  } catch {
    return '?';
  }
}

/** Every thread of every process below `root` (itself included), by the ppid tree. */
function subtreeTasks(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
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
  return pids.flatMap((p) => {
    try {
      return readdirSync(`/proc/${p}/task`).map(Number);
    } catch {
      return [];
    }
  });
}

function moveTask(dir: string, tid: number): string | null {
  try {
    writeFileSync(path.join(dir, 'tasks'), String(tid));
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'EIO';
  }
}

function shieldFailure(what: string, why: string, code?: string): ProcessError {
  const kind = code === 'EACCES' || code === 'EPERM' ? 'PermissionDenied' : 'Unsupported';
  return new ProcessError(kind, `shieldCpus: ${what}: ${why}${code ? ` (${code})` : ''}`, {
    code,
  });
}

function stateFile(owner: number): string {
  return path.join(STATE_DIR, `${owner}.json`);
}

/** Undoes what a state says, synchronously (exit, SIGTERM, recovery). Best effort per item. */
function undo(mount: string, s: ShieldState): void {
  const back = (tid: number) => {
    const origin = s.origins[String(tid)] ?? s.base;
    if (moveTask(path.join(mount, origin), tid) !== null) moveTask(path.join(mount, s.base), tid);
  };
  for (const dir of [s.shieldDir, s.systemDir]) {
    let tids: number[] = [];
    try {
      tids = read(path.join(mount, dir, 'tasks'))
        .split('\n')
        .filter(Boolean)
        .map(Number);
    } catch {
      continue;
    }
    for (const tid of tids) back(tid);
  }
  for (const [irq, list] of Object.entries(s.irqs)) {
    try {
      writeFileSync(`/proc/irq/${irq}/smp_affinity_list`, list);
    } catch {
      // the IRQ went away
    }
  }
  for (const dir of [s.shieldDir, s.systemDir]) {
    try {
      rmdirSync(path.join(mount, dir));
    } catch {
      // already gone, or a task raced in: the next recovery retries
    }
  }
  rmSync(stateFile(s.owner), { force: true });
}

/**
 * Undoes the shields of holders that died without releasing them (SIGKILL, a crash): their
 * state files name the cpusets and tasks to put back. Returns the owner pids recovered.
 * shieldCpus calls it first.
 * @example
 * recoverShields(); // [4711] when pid 4711 held a shield and was killed
 */
export function recoverShields(): number[] {
  const mount = cpusetMount();
  if (mount === null || !existsSync(STATE_DIR)) return [];
  const done: number[] = [];
  for (const f of readdirSync(STATE_DIR)) {
    let s: ShieldState;
    try {
      s = JSON.parse(readFileSync(path.join(STATE_DIR, f), 'utf8')) as ShieldState;
    } catch {
      continue;
    }
    if (startTime(s.owner) === s.ownerStart) continue; // alive: its own to release
    undo(mount, s);
    done.push(s.owner);
  }
  return done;
}

/**
 * Shields `cpus`: moves the movable tasks of the scope off them into a sibling cpuset and
 * makes a cpuset of those CPUs alone (exclusive where the kernel allows), for `add(tid)`.
 * Rejects Unsupported where there is no cgroup v1 cpuset hierarchy (cgroup v2
 * cpuset.cpus.partition is not done yet), PermissionDenied without write access to it,
 * InvalidCommand for CPUs that are not ours or would leave no CPU for the rest.
 * @example
 * const shield = await shieldCpus([1]);
 * shield.add(rtThread.tid); // now alone on CPU 1
 * await shield.release();
 */
export async function shieldCpus(
  cpus: readonly number[],
  options: ShieldOptions = {},
): Promise<CpuShield> {
  const wanted = checkCpus('cpus', cpus);
  const scope = options.scope ?? 'subtree';
  if (scope !== 'subtree' && scope !== 'system') {
    throw invalid('scope', scope, "must be 'subtree' or 'system'");
  }
  const mount = cpusetMount();
  if (mount === null) {
    throw shieldFailure(
      'no cgroup v1 cpuset hierarchy is mounted',
      'only the v1 cpuset (cpu_exclusive) is implemented; cgroup v2 cpuset.cpus.partition is not yet',
    );
  }
  recoverShields();
  const base = cpusetOf(process.pid) ?? '/';
  const baseDir = path.join(mount, base);
  const parentCpus = parseList(read(path.join(baseDir, 'cpuset.effective_cpus')));
  const outside = wanted.filter((c) => !parentCpus.includes(c));
  if (outside.length > 0) {
    throw invalid(
      'cpus',
      wanted,
      `CPUs ${describe(outside)} are not in our cpuset ${base} (${describe(parentCpus)})`,
    );
  }
  const rest = parentCpus.filter((c) => !wanted.includes(c));
  if (rest.length === 0) {
    throw invalid(
      'cpus',
      wanted,
      'would shield every CPU of our cpuset and leave none for the rest',
    );
  }
  const mems = read(path.join(baseDir, 'cpuset.effective_mems'));
  const tag = `core-shield-${process.pid}`;
  const shieldDir = path.posix.join(base, `${tag}-shield`);
  const systemDir = path.posix.join(base, `${tag}-system`);
  const state: ShieldState = {
    owner: process.pid,
    ownerStart: startTime(process.pid) ?? '',
    base,
    shieldDir,
    systemDir,
    origins: {},
    irqs: {},
  };
  const save = () => {
    mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(stateFile(process.pid), JSON.stringify(state));
  };
  try {
    save(); // before the first change: a SIGKILL from here on is recoverable
    for (const [dir, list] of [
      [shieldDir, wanted],
      [systemDir, rest],
    ] as const) {
      const full = path.join(mount, dir);
      mkdirSync(full);
      // v1 refuses tasks until both cpus and mems are set (ENOSPC).
      writeFileSync(path.join(full, 'cpuset.mems'), mems);
      writeFileSync(path.join(full, 'cpuset.cpus'), list.join(','));
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    undo(mount, state);
    throw shieldFailure(`cannot create cpusets under ${baseDir}`, (e as Error).message, code);
  }
  let exclusive = false;
  try {
    writeFileSync(path.join(mount, shieldDir, 'cpuset.cpu_exclusive'), '1');
    exclusive = true;
  } catch {
    // A sibling cpuset shares these CPUs: the shield still works, without the guarantee.
  }
  const tasks =
    scope === 'subtree'
      ? subtreeTasks(process.pid)
      : read(path.join(baseDir, 'tasks')).split('\n').filter(Boolean).map(Number);
  const moved: number[] = [];
  const unmovable: ShieldProblem[] = [];
  const systemFull = path.join(mount, systemDir);
  for (const tid of tasks) {
    const origin = cpusetOf(tid);
    if (origin === null) continue; // exited
    if (scope === 'subtree' && origin !== base) continue; // not in our cpuset: leave it
    state.origins[String(tid)] = origin;
    const err = moveTask(systemFull, tid);
    if (err === null) moved.push(tid);
    else {
      delete state.origins[String(tid)];
      unmovable.push({
        id: tid,
        what: commOf(tid),
        why: err === 'EINVAL' ? 'kernel or per-CPU thread' : err,
      });
    }
  }
  const irqsMoved: number[] = [];
  const irqsUnmovable: ShieldProblem[] = [];
  if (scope === 'system') steerIrqs(rest, state, irqsMoved, irqsUnmovable);
  save();
  let released = false;
  const releaseSync = () => {
    if (released) return;
    released = true;
    process.off('exit', releaseSync);
    process.off('SIGTERM', onTerm);
    undo(mount, state);
  };
  const onTerm = () => {
    releaseSync();
    // Ours was the only listener: SIGTERM must still end the process, as it would have.
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
  };
  process.once('exit', releaseSync);
  process.once('SIGTERM', onTerm);
  return {
    cpus: wanted,
    scope,
    shieldPath: path.join(mount, shieldDir),
    systemPath: systemFull,
    exclusive,
    moved,
    unmovable,
    irqsMoved,
    irqsUnmovable,
    add(id: number) {
      if (released) throw shieldFailure('add', 'the shield has been released');
      const origin = cpusetOf(id);
      if (origin === null) {
        throw new ProcessError('NotFound', `shieldCpus add: no task ${id}`, { code: 'ESRCH' });
      }
      if (state.origins[String(id)] === undefined && origin !== systemDir) {
        state.origins[String(id)] = origin;
      }
      const err = moveTask(path.join(mount, shieldDir), id);
      if (err !== null)
        throw shieldFailure(`cannot move task ${id} into the shield`, commOf(id), err);
      save();
    },
    async release() {
      releaseSync();
    },
  };
}

function steerIrqs(
  rest: number[],
  state: ShieldState,
  moved: number[],
  unmovable: ShieldProblem[],
): void {
  let irqs: string[] = [];
  try {
    irqs = readdirSync('/proc/irq').filter((e) => /^\d+$/.test(e));
  } catch {
    return;
  }
  for (const irq of irqs) {
    const file = `/proc/irq/${irq}/smp_affinity_list`;
    let before: string;
    try {
      before = read(file);
    } catch {
      continue;
    }
    try {
      writeFileSync(file, rest.join(','));
      state.irqs[irq] = before;
      moved.push(Number(irq));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
      unmovable.push({
        id: Number(irq),
        what: irqName(irq),
        why: code === 'EIO' ? 'managed IRQ: the kernel owns its affinity' : code,
      });
    }
  }
}

function irqName(irq: string): string {
  try {
    return (
      readdirSync(`/proc/irq/${irq}`)
        .filter((e) => !e.includes('_') && e !== 'spurious')
        .join(',') || `irq ${irq}`
    );
  } catch {
    return `irq ${irq}`;
  }
}

function parseList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number) as [number, number | undefined];
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}
