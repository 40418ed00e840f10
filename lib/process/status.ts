/** ExitStatus: what the kernel reported when the child was reaped, rusage included. */
import type { NativeStatus } from '../native.js';
import { signalName } from './signals.js';

export interface ResourceUsage {
  userCpuMs: number;
  systemCpuMs: number;
  /**
   * Peak resident set in KiB. Linux carries the parent's peak across the vfork-style exec
   * that both spawn paths use, so a child never reports less than the spawner's RSS then.
   */
  maxRssKb: number;
  minorFaults: number;
  majorFaults: number;
  voluntaryCtxSwitches: number;
  involuntaryCtxSwitches: number;
}

export interface ExitStatus {
  pid: number;
  /** Exit code, null when a signal ended the child. */
  code: number | null;
  /** Terminating signal name, null when the child exited. */
  signal: string | null;
  coreDumped: boolean;
  /** Spawn to reap, on the monotonic clock. */
  durationMs: number;
  rusage: ResourceUsage;
  /**
   * True when another waiter in this process (a stray `waitpid(-1)`) reaped the child
   * first: it has exited, but its code is unknown (both code and signal are null).
   */
  lost?: boolean;
}

export function decodeStatus(pid: number, s: NativeStatus): ExitStatus {
  const status: ExitStatus = {
    pid,
    code: s[0] >= 0 && !s[11] ? s[0] : null,
    signal: s[1] > 0 ? signalName(s[1]) : null,
    coreDumped: s[2],
    durationMs: s[3],
    rusage: {
      userCpuMs: s[4],
      systemCpuMs: s[5],
      maxRssKb: s[6],
      minorFaults: s[7],
      majorFaults: s[8],
      voluntaryCtxSwitches: s[9],
      involuntaryCtxSwitches: s[10],
    },
  };
  if (s[11]) status.lost = true;
  return status;
}

/** "exited with code 3", "killed by SIGKILL (core dumped)". */
export function describeStatus(s: ExitStatus): string {
  if (s.signal) return `killed by ${s.signal}${s.coreDumped ? ' (core dumped)' : ''}`;
  if (s.code === null) return 'exited with an unknown status (reaped elsewhere)';
  return `exited with code ${s.code}`;
}
