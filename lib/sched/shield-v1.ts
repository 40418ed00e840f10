/**
 * The cgroup v1 cpuset backend of shieldCpus, as `cset shield` does it: a shield cpuset
 * (cpu_exclusive where no sibling shares its CPUs) and a system cpuset beside it, both under
 * our cpuset; tasks move one tid at a time through `tasks`.
 */
import { mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  ids,
  type Made,
  mounts,
  parseList,
  read,
  type ShieldBackend,
  type ShieldScope,
  type ShieldState,
  subtreeProcesses,
  writeId,
} from './shield-backend.js';

/** The cgroup v1 cpuset mount point, or null. */
export function cpusetV1Mount(): string | null {
  const m = mounts().find((e) => e.fstype === 'cgroup' && e.superOptions.includes('cpuset'));
  return m?.mountPoint ?? null;
}

function cpusetOf(tid: number): string | null {
  try {
    return read(`/proc/${tid}/cpuset`);
  } catch {
    return null;
  }
}

/**
 * The v1 backend on the hierarchy mounted at `mount`.
 * @example
 * const b = v1Backend('/sys/fs/cgroup/cpuset'); b.cpus('/'); // [0, 1]
 */
export function v1Backend(mount: string): ShieldBackend {
  return {
    version: 1,
    mount,
    base: () => cpusetOf(process.pid) ?? '/',
    cpus: (base) => parseList(read(path.join(mount, base, 'cpuset.effective_cpus'))),
    locate: cpusetOf,
    create(state: ShieldState, wanted: number[], rest: number[]): Made {
      const mems = read(path.join(mount, state.base, 'cpuset.effective_mems'));
      for (const [dir, list] of [
        [state.shieldDir, wanted],
        [state.systemDir as string, rest],
      ] as const) {
        const full = path.join(mount, dir);
        mkdirSync(full);
        // v1 refuses tasks until both cpus and mems are set (ENOSPC).
        writeFileSync(path.join(full, 'cpuset.mems'), mems);
        writeFileSync(path.join(full, 'cpuset.cpus'), list.join(','));
      }
      try {
        writeFileSync(path.join(mount, state.shieldDir, 'cpuset.cpu_exclusive'), '1');
        return { exclusive: true, partition: null };
      } catch {
        // A sibling cpuset shares these CPUs: the shield still works, without the guarantee.
        return { exclusive: false, partition: null };
      }
    },
    candidates(scope: ShieldScope, base: string): number[] {
      if (scope === 'system') return ids(path.join(mount, base, 'tasks'));
      return subtreeProcesses(process.pid).flatMap((p) => {
        try {
          return readdirSync(`/proc/${p}/task`).map(Number);
        } catch {
          return [];
        }
      });
    },
    move: (dir, tid) => writeId(path.join(dir, 'tasks'), tid),
    refuse: () => null,
    members: (dir) => ids(path.join(dir, 'tasks')),
    teardown(state: ShieldState): void {
      for (const dir of [state.shieldDir, state.systemDir]) {
        if (dir === null) continue;
        try {
          rmdirSync(path.join(mount, dir));
        } catch {
          // already gone, or a task raced in: the next recovery retries
        }
      }
    },
  };
}
