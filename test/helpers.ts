// Observers for tests: read what the kernel says about a process, from outside the library.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';

/**
 * How many times slower than this host the test code may run: the qemu lanes
 * (scripts/vm/run.js) set CORE_PROCESS_TEST_TIME_SCALE, since under TCG every Node start and
 * fork takes several times longer. Bounds on waits are multiplied by it; bounds that prove
 * something did NOT happen in time are not.
 *
 * @example
 * await until(() => ready, scaled(10_000));
 */
export const TIME_SCALE = Math.max(1, Number(process.env.CORE_PROCESS_TEST_TIME_SCALE) || 1);

/** `ms` times TIME_SCALE: a wait's upper bound that holds on a slow (emulated) machine too. */
export function scaled(ms: number): number {
  return ms * TIME_SCALE;
}

/** A field of /proc/<pid>/status, e.g. 'SigIgn' -> '0000000000001000'. */
export function procStatusField(pid: number | 'self', field: string): string {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${field}:`));
  if (line === undefined) throw new Error(`no ${field} in /proc/${pid}/status`);
  return line.slice(field.length + 1).trim();
}

/** Open descriptor numbers of a process, sorted. */
export function fdsOf(pid: number | 'self'): number[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map(Number)
    .sort((a, b) => a - b);
}

export function fdTarget(pid: number | 'self', fd: number): string {
  return readlinkSync(`/proc/${pid}/fd/${fd}`);
}

/** `ps -o <fields>= -p <pid>` as trimmed columns. */
export function ps(pid: number, fields: string): string[] {
  const spec = fields
    .split(',')
    .map((f) => `${f}=`)
    .join(',');
  return execFileSync('ps', ['-o', spec, '-p', String(pid)], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
}

/** State letter from /proc/<pid>/stat ('R', 'S', 'Z'...), or null when the pid is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/** Pids in /proc whose stat fields (state letter, parent, process group) satisfy `match`. */
export function procPids(
  match: (p: { state: string; ppid: number; pgid: number }) => boolean,
): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (match({ state: f[0] ?? '', ppid: Number(f[1]), pgid: Number(f[2]) })) {
        out.push(Number(entry));
      }
    } catch {
      // raced with an exit
    }
  }
  return out;
}

/** Pids whose parent is `ppid` and which are zombies. */
export function zombieChildren(ppid: number = process.pid): number[] {
  return procPids((p) => p.state === 'Z' && p.ppid === ppid);
}

/** Pids whose parent is `ppid` and which are alive (not zombies). */
export function liveChildren(ppid: number = process.pid): number[] {
  return procPids((p) => p.state !== 'Z' && p.ppid === ppid);
}

/**
 * Live pids in process group `pgid`. Zombies are left out: they are dead, and on this VM
 * pid 1 does not reap orphans, so a killed grandchild can stay a zombie forever.
 */
export function liveGroupMembers(pgid: number): number[] {
  return procPids((p) => p.state !== 'Z' && p.pgid === pgid);
}

export function tempDir(prefix = 'core-process-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Polls `check` until it returns true or `timeoutMs` passes (a generous bound, not a timing). */
export async function eventually(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + scaled(timeoutMs);
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

/** True when the SigBlk/SigIgn style hex mask has the bit of signal `num` set. */
export function maskHas(mask: string, num: number): boolean {
  return ((BigInt(`0x${mask}`) >> BigInt(num - 1)) & 1n) === 1n;
}

/**
 * The program behind a child's pid: the pid itself, or where the child runs in a PID
 * namespace under our init (containment 'pidns', the service's default), the init's child.
 */
export function programOf(pid: number): number {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'core-process-in') return pid;
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
    return Number(kids[0]) || pid;
  } catch {
    return pid;
  }
}

/**
 * True once `pid` runs `comm` and sleeps in it. comm changes early in execve, before the
 * kernel closes close-on-exec descriptors; a sleeping state means exec has completed.
 */
export function runningAsleep(pid: number, comm = 'sleep'): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm && procState(pid) === 'S';
  } catch {
    return false;
  }
}

/**
 * Registers an afterEach that SIGKILLs and reaps every child passed to the returned `track`,
 * so a failing test leaves no process behind.
 */
export function trackChildren(): <
  T extends { running: boolean; kill(s: 'SIGKILL'): boolean; exited: Promise<unknown> },
>(
  h: T,
) => T {
  const started: Array<{
    running: boolean;
    kill(s: 'SIGKILL'): boolean;
    exited: Promise<unknown>;
  }> = [];
  afterEach(async () => {
    for (const h of started.splice(0)) {
      if (h.running) {
        h.kill('SIGKILL');
        await h.exited;
      }
    }
  });
  return (h) => {
    started.push(h);
    return h;
  };
}

/**
 * The error `fn` throws, checked to be an instance of `type`; anything else (another error,
 * or nothing thrown) fails the test.
 */
export function thrown<E extends Error>(
  type: abstract new (...args: never[]) => E,
  fn: () => unknown,
): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof type) return e;
    throw e;
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`);
}
