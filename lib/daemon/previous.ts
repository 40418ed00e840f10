/**
 * The child a previous supervisor of the same daemon left running: recognised by the child
 * PID file that supervisor kept, and by pid + start time, so a recycled pid is never taken
 * for it. A restarted supervisor stops it before starting its own, so there is never a
 * second copy (a port conflict and a restart loop for a server).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { liveStartTime } from '../process/proc.js';
import { type SignalName, signalNumber } from '../process/signals.js';
import { PidFile } from './pidfile.js';

export interface PreviousChild {
  pid: number;
  startTime: string;
}

/**
 * The live process recorded in `file`, or null.
 * @example
 * const prev = previousChild('/home/me/.local/state/core-process/daemons/default--web.child.pid');
 */
export function previousChild(file: string): PreviousChild | null {
  return new PidFile(file).owner();
}

const same = (p: PreviousChild) => liveStartTime(p.pid) === p.startTime;

// The child led its own process group: the group is its tree, minus members that called
// setsid, which its cgroup (reaped next, its owner being gone) still holds.
function signalTree(p: PreviousChild, signal: SignalName): void {
  if (!same(p)) return;
  for (const target of [-p.pid, p.pid]) {
    try {
      process.kill(target, signalNumber(signal));
    } catch {
      // Not a group leader, or gone meanwhile.
    }
  }
}

/**
 * Stops the previous child: `signal` to its group, SIGKILL after `graceMs`; resolves once it
 * is gone (bounded: 5 s after the SIGKILL).
 * @example
 * await replacePrevious(prev, 'SIGTERM', 5000);
 */
export async function replacePrevious(
  p: PreviousChild,
  signal: SignalName,
  graceMs: number,
): Promise<void> {
  signalTree(p, signal);
  const graceEnd = Date.now() + graceMs;
  while (same(p) && Date.now() < graceEnd) await sleep(20);
  signalTree(p, 'SIGKILL');
  const end = Date.now() + 5000;
  while (same(p) && Date.now() < end) await sleep(20);
}
