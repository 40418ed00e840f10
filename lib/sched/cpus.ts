/** CPU ids: what exists, what is online, and validating a requested set against it. */

import { describe, invalid } from '../errors.js';
import { native } from '../native.js';

/**
 * CPUs configured in this machine, online or not (sysconf _SC_NPROCESSORS_CONF).
 * @example
 * cpuCount(); // 2
 */
export function cpuCount(): number {
  return native.cpuCount();
}

/**
 * Online CPU ids, sorted (from /sys/devices/system/cpu/online). What `affinity` may name.
 * @example
 * onlineCpus(); // [0, 1]
 */
export function onlineCpus(): number[] {
  return native.onlineCpus();
}

// Reading /sys/devices/system/cpu/online costs more than the sched_setaffinity it guards, so
// the set is cached. A CPU missing from the cache triggers a fresh read before it is refused
// (hot-plugged CPUs are accepted at once); one that went offline since is left to the
// kernel, which refuses a set with no usable CPU (EINVAL, reported as such).
let onlineCache: Set<number> | undefined;

function isOnline(cpu: number): boolean {
  if (onlineCache?.has(cpu)) return true;
  onlineCache = new Set(native.onlineCpus());
  return onlineCache.has(cpu);
}

/**
 * Validates a CPU set before any syscall: a non-empty array of online CPU ids. Returns it
 * sorted without duplicates. Throws ProcessError InvalidCommand naming the value.
 */
export function checkCpus(field: string, cpus: unknown): number[] {
  if (!Array.isArray(cpus)) {
    throw invalid(field, cpus, 'must be an array of CPU ids, e.g. [0, 1]');
  }
  if (cpus.length === 0) {
    throw invalid(field, cpus, 'must name at least one CPU (an empty set would stop the task)');
  }
  const out = new Set<number>();
  for (const cpu of cpus) {
    if (typeof cpu !== 'number' || !Number.isInteger(cpu) || cpu < 0) {
      throw invalid(field, cpus, `has ${describe(cpu)}, which is not a CPU id (an integer >= 0)`);
    }
    if (!isOnline(cpu)) {
      // isOnline has just re-read the set: name it as it is now.
      const online = [...(onlineCache ?? [])].sort((a, b) => a - b);
      throw invalid(
        field,
        cpus,
        `names CPU ${cpu}, which is not online (online: ${formatCpus(online)})`,
      );
    }
    out.add(cpu);
  }
  return [...out].sort((a, b) => a - b);
}

/** [0,1,2,5] -> "0-2,5", the notation of taskset -c and Cpus_allowed_list. */
export function formatCpus(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === (cpus[j] as number) + 1) j++;
    parts.push(i === j ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
