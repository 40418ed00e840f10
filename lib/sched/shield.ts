/**
 * shieldCpus: what `cset shield` does. Two sibling cgroups are made under ours: a shield
 * holding the shielded CPUs (exclusive where the kernel allows it) and a system set holding
 * the rest; the movable tasks of the chosen scope go to the system set, and tasks the caller
 * names (`add`) go to the shield. `release()` restores every task and file it changed; it
 * also runs at exit and on SIGTERM, and a state file lets the next shieldCpus (or
 * recoverShields) undo a holder that was SIGKILLed. The cgroup work is a backend's: v1
 * cpusets (shield-v1.ts, cpu_exclusive) or v2 (shield-v2.ts, cpuset.cpus.partition).
 *
 * Scopes: 'subtree' (default) is this process and its descendants, never anything else, so
 * tests and CI can use it on a shared machine (our own cpuset cgroup is often the root one,
 * where "our cgroup and below" would be every task); 'system' is every task of our cpuset
 * cgroup, as `cset shield` moves them (on v2: a partition, which takes the CPUs from every
 * task outside it), plus IRQ steering: tried by hand, never by the tests on a shared machine.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, invalid, ProcessError } from '../errors.js';
import { checkCpus } from './cpus.js';
import {
  read,
  type ShieldBackend,
  type ShieldScope,
  type ShieldState,
  shieldFailure,
} from './shield-backend.js';
import { cpusetV1Mount, v1Backend } from './shield-v1.js';
import { cpusetV2Mount, v2Backend } from './shield-v2.js';

export type { ShieldScope } from './shield-backend.js';

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
  /** The cgroup version of the cpuset hierarchy the shield is on. */
  readonly cgroupVersion: 1 | 2;
  /** The shield's cpuset directory (use add() to move a task in). */
  readonly shieldPath: string;
  /**
   * Where the moved tasks run now; on v2 with scope 'system' nothing moves, and this is the
   * root cgroup the partition was made under.
   */
  readonly systemPath: string;
  /**
   * True when no other cpuset may use the shield's CPUs: v1 cpu_exclusive; v2 a partition
   * (scope 'system' only: in 'subtree' scope a partition would take the CPUs from others).
   */
  readonly exclusive: boolean;
  /** v2: what cpuset.cpus.partition reads back ('isolated', 'root' or 'member'); v1: null. */
  readonly partition: string | null;
  /** Tasks moved off the shielded CPUs. */
  readonly moved: readonly number[];
  /** Tasks that could not move (kernel threads, per-CPU threads), listed, not hidden. */
  readonly unmovable: readonly ShieldProblem[];
  /** IRQs steered off the shield ('system' scope), and those that refused. */
  readonly irqsMoved: readonly number[];
  readonly irqsUnmovable: readonly ShieldProblem[];
  /**
   * Moves a task into the shield: v1 one task (pid or tid), v2 a whole process (a thread
   * that is not its process's leader is refused, never widened to its process).
   */
  add(id: number): void;
  /** Moves a task out of the shield again: to the system set, or back where it came from. */
  remove(id: number): void;
  /** Puts every task, IRQ and file back as it was; idempotent. */
  release(): Promise<void>;
}

const STATE_DIR = path.join(os.tmpdir(), 'core-process-shields');

/** The backend for this host's cpuset hierarchy: v1 where it is mounted, else v2, else null. */
function hostBackend(): ShieldBackend | null {
  const v1 = cpusetV1Mount();
  if (v1 !== null) return v1Backend(v1);
  const v2 = cpusetV2Mount();
  return v2 === null ? null : v2Backend(v2);
}

/**
 * Which cpuset hierarchy shieldCpus would use here: its cgroup version and mount, or null.
 * @example
 * shieldHierarchy(); // { version: 1, mount: '/sys/fs/cgroup/cpuset' } on a hybrid host
 */
export function shieldHierarchy(): { version: 1 | 2; mount: string } | null {
  const b = hostBackend();
  return b === null ? null : { version: b.version, mount: b.mount };
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
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

function stateFile(owner: number): string {
  return path.join(STATE_DIR, `${owner}.json`);
}

/** Undoes what a state says, synchronously (exit, SIGTERM, recovery). Best effort per item. */
function undo(b: ShieldBackend, s: ShieldState): void {
  for (const dir of [s.shieldDir, s.systemDir]) {
    if (dir === null) continue;
    for (const id of b.members(path.join(b.mount, dir))) {
      const origin = s.origins[String(id)] ?? s.base;
      if (b.move(path.join(b.mount, origin), id) !== null) b.move(path.join(b.mount, s.base), id);
    }
  }
  for (const [irq, list] of Object.entries(s.irqs)) {
    try {
      writeFileSync(`/proc/irq/${irq}/smp_affinity_list`, list);
    } catch {
      // the IRQ went away
    }
  }
  b.teardown(s);
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
  if (!existsSync(STATE_DIR)) return [];
  const done: number[] = [];
  for (const f of readdirSync(STATE_DIR)) {
    let s: ShieldState;
    try {
      s = JSON.parse(readFileSync(path.join(STATE_DIR, f), 'utf8')) as ShieldState;
    } catch {
      continue;
    }
    if (startTime(s.owner) === s.ownerStart) continue; // alive: its own to release
    const mount = s.mount ?? cpusetV1Mount();
    if (mount === null) continue;
    undo(s.version === 2 ? v2Backend(mount) : v1Backend(mount), s);
    done.push(s.owner);
  }
  return done;
}

/**
 * Shields `cpus`: moves the movable tasks of the scope off them into a sibling cpuset and
 * makes a cpuset of those CPUs alone (exclusive where the kernel allows), for `add(tid)`.
 * Works on the cgroup v1 cpuset hierarchy and on cgroup v2 (cpuset.cpus.partition for scope
 * 'system'). Rejects Unsupported where neither offers a cpuset, PermissionDenied without
 * write access to it, InvalidCommand for CPUs that are not ours or would leave no CPU for
 * the rest.
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
  const b = hostBackend();
  if (b === null) {
    throw shieldFailure(
      'no cpuset hierarchy',
      'neither a cgroup v1 cpuset mount nor a cgroup v2 mount offering the cpuset controller',
    );
  }
  recoverShields();
  const base = b.base(scope);
  // No trailing slash for the root cgroup: it is printed and compared.
  const baseDir = path.join(b.mount, base).replace(/(.)\/$/, '$1');
  const parentCpus = b.cpus(base);
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
  const tag = `core-shield-${process.pid}`;
  const state: ShieldState = {
    version: b.version,
    mount: b.mount,
    owner: process.pid,
    ownerStart: startTime(process.pid) ?? '',
    base,
    shieldDir: path.posix.join(base, `${tag}-shield`),
    systemDir:
      b.version === 2 && scope === 'system' ? null : path.posix.join(base, `${tag}-system`),
    origins: {},
    irqs: {},
  };
  const save = () => {
    mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(stateFile(process.pid), JSON.stringify(state));
  };
  let made: { exclusive: boolean; partition: string | null };
  try {
    save(); // before the first change: a SIGKILL from here on is recoverable
    made = b.create(state, wanted, rest, scope);
    save();
  } catch (e) {
    undo(b, state);
    if (e instanceof ProcessError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw shieldFailure(`cannot create cpusets under ${baseDir}`, (e as Error).message, code);
  }
  const shieldFull = path.join(b.mount, state.shieldDir);
  const systemFull = state.systemDir === null ? baseDir : path.join(b.mount, state.systemDir);
  const moved: number[] = [];
  const unmovable: ShieldProblem[] = [];
  for (const id of b.candidates(scope, base)) {
    const origin = b.locate(id);
    if (origin === null) continue; // exited
    if (scope === 'subtree' && origin !== base) continue; // not in our cpuset: leave it
    state.origins[String(id)] = origin;
    const err = b.move(systemFull, id);
    if (err === null) moved.push(id);
    else {
      delete state.origins[String(id)];
      unmovable.push({
        id,
        what: commOf(id),
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
    undo(b, state);
  };
  const onTerm = () => {
    releaseSync();
    // Ours was the only listener: SIGTERM must still end the process, as it would have.
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
  };
  process.once('exit', releaseSync);
  process.once('SIGTERM', onTerm);
  const located = (op: string, id: number): string => {
    if (released) throw shieldFailure(op, 'the shield has been released');
    const origin = b.locate(id);
    if (origin === null) {
      throw new ProcessError('NotFound', `shieldCpus ${op}: no task ${id}`, { code: 'ESRCH' });
    }
    return origin;
  };
  return {
    cpus: wanted,
    scope,
    cgroupVersion: b.version,
    shieldPath: shieldFull,
    systemPath: systemFull,
    exclusive: made.exclusive,
    partition: made.partition,
    moved,
    unmovable,
    irqsMoved,
    irqsUnmovable,
    add(id: number) {
      const origin = located('add', id);
      const refused = b.refuse(id);
      if (refused !== null) throw shieldFailure('add', refused, 'EOPNOTSUPP');
      if (state.origins[String(id)] === undefined && origin !== state.systemDir) {
        state.origins[String(id)] = origin;
      }
      const err = b.move(shieldFull, id);
      if (err !== null)
        throw shieldFailure(`cannot move task ${id} into the shield`, commOf(id), err);
      save();
    },
    remove(id: number) {
      located('remove', id);
      const back =
        state.systemDir !== null && moved.includes(id)
          ? systemFull
          : path.join(b.mount, state.origins[String(id)] ?? base);
      const err = b.move(back, id);
      if (err !== null)
        throw shieldFailure(`cannot move task ${id} out of the shield`, commOf(id), err);
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
