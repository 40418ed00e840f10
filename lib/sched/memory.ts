/**
 * Memory locking for realtime processes: mlockall so the loop never waits on a page fault
 * (a swap-in, a DAMON pageout on a VM, a first touch of a fresh page), and VmLck to prove it.
 *
 * V8 (every Node line, 20 to 26) discards pages with madvise(MADV_DONTNEED) and aborts the
 * process ("Check failed: 0 == ret", SIGTRAP) when that fails, and Linux refuses it (EINVAL)
 * on locked memory. V8 discards at isolate start and end (guard pages, its code range), when
 * it frees code, in memory-reducing GCs and, from Node 24 on, in every forced GC's sweep of
 * the CppHeap that Node attaches to each isolate. So before it locks anything, lockMemory
 * points Node's own madvise import at a guard (native/madvise_guard_linux.cc) that retries a
 * refused discard with MADV_DONTNEED_LOCKED (Linux 5.18+: pages dropped, range still locked),
 * or with munlock, the discard and mlock2(MLOCK_ONFAULT) on older kernels. Everything stays
 * locked, code included, through GCs, createThread threads, plain `new Worker`s and exit.
 * Where the guard cannot be installed (no madvise import in the object holding Node, e.g. a
 * static build, or a CPU other than x64/arm64) lockMemory refuses before locking.
 * Locking is per process and cannot be handed to a child: mlockall's locks are not inherited
 * across fork and are dropped by exec, so a child must lock itself (`core-process run
 * --rt-node` does it for a Node program).
 */
import { readFile } from 'node:fs/promises';
import { errnoName, invalid, ProcessError } from '../errors.js';
import { native } from '../native.js';
import { isSchedError } from './errors.js';

export interface LockMemoryOptions {
  /**
   * MCL_ONFAULT: lock pages as they are first touched instead of faulting every mapped page
   * in now. A Node process maps far more than it touches: on the standard machine it is
   * ~80 MiB resident after locking with onFault, ~220 MiB without.
   */
  onFault?: boolean;
  /**
   * Bytes of the calling thread's stack to touch now (default 256 KiB), so deep calls later
   * do not fault: what cyclictest does for its threads. 0 skips it.
   */
  stackBytes?: number;
}

export interface MemoryLockInfo {
  /** VmLck > 0 in /proc/self/status. */
  locked: boolean;
  /** VmLck in bytes: memory this process holds locked now. */
  lockedBytes: number;
}

const DEFAULT_STACK_PREFAULT = 256 << 10;

/** A field of /proc/<pid>/status in bytes (the kernel reports kB), or null when absent. */
export async function statusBytes(
  field: string,
  pid: number | 'self' = 'self',
): Promise<number | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

function memlockLimit(): string {
  const r = native.getRlimit(0, 'memlock');
  if (isSchedError(r)) return 'unknown';
  return r[0] < 0 ? 'unlimited' : `${r[0]} bytes`;
}

async function lockFailure(op: string, e: { errno: number; syscall: string }, onFault: boolean) {
  const code = errnoName(e.errno);
  if (e.syscall === 'madvise') {
    return new ProcessError(
      'Unsupported',
      `${op}: refused before locking anything: Node ${process.version} (${process.arch}) ` +
        'calls madvise where it cannot be guarded (no madvise import in the object holding V8), ' +
        'and V8 aborts the process when the kernel refuses it to discard a locked page ' +
        `(${code})`,
      { code, errno: e.errno, syscall: e.syscall },
    );
  }
  if (code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EOPNOTSUPP') {
    return new ProcessError('Unsupported', `${op}: memory locking is Linux-only here (${code})`, {
      code,
      errno: e.errno,
      syscall: e.syscall,
    });
  }
  if (code === 'EPERM' || code === 'ENOMEM' || code === 'EAGAIN') {
    const size = await statusBytes(onFault ? 'VmRSS' : 'VmSize');
    const need = size === null ? '' : `; this process ${onFault ? 'uses' : 'maps'} ${size} bytes`;
    return new ProcessError(
      'PermissionDenied',
      `${op}: locking memory needs CAP_IPC_LOCK or an RLIMIT_MEMLOCK large enough ` +
        `(this process: RLIMIT_MEMLOCK ${memlockLimit()}${need}); ` +
        `raise it with \`ulimit -l unlimited\` / LimitMEMLOCK=infinity, or grant CAP_IPC_LOCK (${code})`,
      { code, errno: e.errno, syscall: e.syscall },
    );
  }
  return new ProcessError('InvalidCommand', `${op}: the kernel refused (${code})`, {
    code,
    errno: e.errno,
    syscall: e.syscall,
  });
}

/**
 * Locks every page of this process in RAM, now and from now on (mlockall MCL_CURRENT |
 * MCL_FUTURE, plus MCL_ONFAULT with `onFault`), and prefaults the calling thread's stack.
 * Threads, Workers, GCs and exit all run with the lock held (see the module comment).
 * Rejects ProcessError PermissionDenied naming CAP_IPC_LOCK and the RLIMIT_MEMLOCK in force;
 * Unsupported off Linux, and where V8's page discards cannot be guarded (before locking).
 * @example
 * await lockMemory({ onFault: true });
 * (await memoryLocked()).lockedBytes; // VmLck, > 0
 */
export async function lockMemory(options: LockMemoryOptions = {}): Promise<void> {
  const onFault = options.onFault === true;
  if (options.onFault !== undefined && typeof options.onFault !== 'boolean') {
    throw invalid('onFault', options.onFault, 'must be a boolean');
  }
  const stack = options.stackBytes ?? DEFAULT_STACK_PREFAULT;
  if (!Number.isSafeInteger(stack) || stack < 0) {
    throw invalid('stackBytes', stack, 'must be an integer number of bytes >= 0');
  }
  const r = native.lockMemory(onFault);
  if (r !== 0) throw await lockFailure('lockMemory', r, onFault);
  if (stack > 0) native.prefaultStack(stack);
}

/**
 * Undoes lockMemory (munlockall): pages may be swapped or reclaimed again.
 * @example
 * await unlockMemory();
 */
export async function unlockMemory(): Promise<void> {
  const r = native.unlockMemory();
  if (r !== 0) throw await lockFailure('unlockMemory', r, false);
}

/**
 * How much of this process is locked in RAM, from VmLck in /proc/self/status (the kernel's
 * count, not ours). Off Linux: `{ locked: false, lockedBytes: 0 }`.
 * @example
 * const { locked, lockedBytes } = await memoryLocked();
 */
export async function memoryLocked(): Promise<MemoryLockInfo> {
  const bytes = (await statusBytes('VmLck')) ?? 0;
  return { locked: bytes > 0, lockedBytes: bytes };
}
