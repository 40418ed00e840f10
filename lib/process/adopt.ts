/**
 * Taking over a live process that another process of ours started: a supervisor restarted
 * after a crash adopts the child its predecessor left running instead of starting a second
 * copy. The handle signals through a pidfd (no recycled-pid race) and sees the exit; what it
 * cannot have is the exit status (that goes to the process's real parent, init or a
 * subreaper, so it arrives as `lost`) or the output pipes (the child keeps the stdout and
 * stderr it was started with).
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { errnoName, invalid, ProcessError } from '../errors.js';
import { type NativeSpawnRequest, native } from '../native.js';
import { openChildCgroup } from './cgroup.js';
import { ProcessHandle } from './handle.js';
import { liveStartTime } from './proc.js';

export interface AdoptOptions {
  pid: number;
  /** Field 22 of /proc/<pid>/stat when it was recorded: a recycled pid is refused. */
  startTime: string;
  /** Milliseconds from SIGTERM to SIGKILL in `terminateTree`; default 2000. */
  killGrace?: number;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return String(pid);
  }
}

const gone = (pid: number, startTime: string) =>
  new ProcessError('NotFound', `adopt: pid ${pid} (start time ${startTime}) is not running`, {
    code: 'ESRCH',
    field: 'pid',
  });

/**
 * A handle on a live process we did not spawn, identified by pid and start time. Its tree is
 * its cgroup when it is in one of ours (see `ProcessHandle.leaseTree`), else its process
 * group when it leads one. `exited` settles when it exits, with `lost: true` and code null.
 * Linux with pidfd only (Unsupported elsewhere).
 *
 * @example
 * const prev = previousChild(childPidFile);
 * if (prev !== null) {
 *   const child = adoptProcess(prev);
 *   await child.exited; // { code: null, signal: null, lost: true, ... }
 * }
 */
export function adoptProcess(options: AdoptOptions): ProcessHandle {
  const { pid, startTime } = options;
  if (!Number.isSafeInteger(pid) || pid <= 0)
    throw invalid('pid', pid, 'must be a positive integer');
  if (typeof startTime !== 'string' || !/^\d+$/.test(startTime)) {
    throw invalid('startTime', startTime, 'must be the decimal start time from /proc/<pid>/stat');
  }
  if (liveStartTime(pid) !== startTime) throw gone(pid, startTime);
  let handle: ProcessHandle | undefined;
  const result = native.adopt(pid, (status) => handle?._onExit(status));
  if (typeof result === 'number') {
    if (-result === constants.errno.ESRCH) throw gone(pid, startTime);
    const unsupported = -result === constants.errno.ENOSYS;
    throw new ProcessError(
      unsupported ? 'Unsupported' : 'SpawnFailed',
      `adopt: pidfd_open(${pid}) failed: ${errnoName(-result)}${unsupported ? ' (watching a process we did not start needs Linux 5.3+ pidfds)' : ''}`,
      { code: errnoName(-result), errno: -result, syscall: 'pidfd_open' },
    );
  }
  // The pidfd names whatever had the pid when it was opened: the same start time now means
  // it is the recorded process. A recycled pid in between leaves a watch on a stranger until
  // it exits; it is unreferenced so it never keeps us alive.
  if (liveStartTime(pid) !== startTime) {
    result.unref();
    throw gone(pid, startTime);
  }
  const cgroup = openChildCgroup(pid);
  const leader = native.getpgid(pid) === pid;
  handle = new ProcessHandle(
    result,
    {
      // Only `pgid` of the request is read after a spawn: the group it leads, or 0.
      request: { pgid: leader ? 0 : Math.max(0, native.getpgid(pid)) } as NativeSpawnRequest,
      command: comm(pid),
      args: [],
      timeout: undefined,
      killSignal: 'SIGTERM',
      killGrace: options.killGrace ?? 2000,
      ownGroup: leader,
      containment: cgroup !== null ? 'cgroup' : leader ? 'group' : 'none',
      cgroup,
    },
    undefined,
  );
  return handle;
}
