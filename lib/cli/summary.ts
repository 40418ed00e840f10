/**
 * The resource summary `core-process run` prints when the child exits: what /usr/bin/time
 * would say, as one plain line or as JSON.
 */
import type { SpawnOptions } from '../process/options.js';
import type { ExitStatus } from '../process/status.js';

export interface RunSummary {
  command: string;
  args: string[];
  pid: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** What `run` itself exits with: the code, or 128 + the signal number. */
  exitStatus: number;
  wallMs: number;
  userCpuMs: number;
  systemCpuMs: number;
  maxRssKb: number;
  /**
   * True when maxRssKb is not the child's own peak but the launcher's: Linux keeps the
   * spawner's peak across a vfork-style exec, so a child smaller than us reports our peak.
   */
  maxRssIsUpperBound: boolean;
  minorFaults: number;
  majorFaults: number;
  voluntaryCtxSwitches: number;
  involuntaryCtxSwitches: number;
  applied: {
    cpus: number[] | null;
    scheduler: { policy: string; priority?: number } | null;
    nice: number | null;
    rlimits: Record<string, unknown> | null;
  };
  /** With --memory: the OOM killer killed in the child's cgroup. */
  oomKilled?: boolean;
  /** With --memory/--pids/--cpu: forks refused at --pids, microseconds throttled by --cpu. */
  limitsHit?: { pids: number; cpuThrottledUs: number };
}

/**
 * @example
 * const s = summarize(options, status, timedOut, exitStatus, launcherPeakKb);
 */
export function summarize(
  options: SpawnOptions,
  status: ExitStatus,
  timedOut: boolean,
  exitStatus: number,
  launcherPeakKb: number,
): RunSummary {
  const r = status.rusage;
  const summary: RunSummary = {
    command: options.program,
    args: [...(options.args ?? [])],
    pid: status.pid,
    exitCode: status.code,
    signal: status.signal,
    timedOut,
    exitStatus,
    wallMs: Math.round(status.durationMs * 1000) / 1000,
    userCpuMs: r.userCpuMs,
    systemCpuMs: r.systemCpuMs,
    maxRssKb: r.maxRssKb,
    maxRssIsUpperBound: r.maxRssKb <= launcherPeakKb,
    minorFaults: r.minorFaults,
    majorFaults: r.majorFaults,
    voluntaryCtxSwitches: r.voluntaryCtxSwitches,
    involuntaryCtxSwitches: r.involuntaryCtxSwitches,
    applied: {
      cpus: options.affinity ? [...options.affinity] : null,
      scheduler: options.scheduler ? { ...options.scheduler } : null,
      nice: options.nice ?? null,
      rlimits: options.rlimits ? { ...options.rlimits } : null,
    },
  };
  if (status.oomKilled !== undefined) summary.oomKilled = status.oomKilled;
  if (status.limitsHit !== undefined) summary.limitsHit = { ...status.limitsHit };
  return summary;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)}s`;
const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

/**
 * One line for humans, e.g.
 * `sleep: exit 0 · wall 1.002s · user 0.001s · sys 0.000s · max RSS ≤ 48.2 MiB · ctx 2 vol / 0 invol`.
 *
 * @example
 * process.stderr.write(`${formatSummary(s)}\n`);
 */
export function formatSummary(s: RunSummary): string {
  const outcome = s.timedOut
    ? `timed out, killed by ${s.signal ?? '?'}`
    : s.signal !== null
      ? `killed by ${s.signal}`
      : `exit ${s.exitCode}`;
  return [
    `${s.command}: ${outcome}`,
    `wall ${seconds(s.wallMs)}`,
    `user ${seconds(s.userCpuMs)}`,
    `sys ${seconds(s.systemCpuMs)}`,
    `max RSS ${s.maxRssIsUpperBound ? '≤ ' : ''}${mib(s.maxRssKb)}`,
    `ctx ${s.voluntaryCtxSwitches} vol / ${s.involuntaryCtxSwitches} invol`,
  ].join(' · ');
}
