/**
 * The shape of a reaped child's status. Only types: it sits at the bottom of the house so that
 * ProcessError (lib/errors.ts) can carry a status without importing the process layer, which
 * decodes it (lib/process/status.ts).
 */

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
  /** With `limits.memoryBytes`: true when the kernel's OOM killer killed in the child's cgroup. */
  oomKilled?: boolean;
  /** With `limits`: the cgroup's own counters, read when the child was reaped. */
  limitsHit?: LimitsHit;
}

/** How often the cgroup limits bit: forks refused at `pids`, time held back by the CPU quota. */
export interface LimitsHit {
  /** fork/clone calls refused because `limits.pids` was reached (pids.events `max`). */
  pids: number;
  /** Microseconds the tree was throttled by `limits.cpu` (cpu.stat). */
  cpuThrottledUs: number;
}
