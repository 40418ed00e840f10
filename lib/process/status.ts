/** Decoding the addon's status tuple into an ExitStatus (the type lives in lib/exit-status.ts). */
import type { ExitStatus } from '../exit-status.js';
import type { NativeStatus } from '../native.js';
import { signalName } from './signals.js';

export type { ExitStatus, LimitsHit, ResourceUsage } from '../exit-status.js';

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
