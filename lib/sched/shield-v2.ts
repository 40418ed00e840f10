/**
 * The cgroup v2 backend of shieldCpus (Documentation/admin-guide/cgroup-v2.rst, "Cpuset
 * Interface Files"). A shield cgroup with the shielded CPUs and a system cgroup with the rest,
 * under our cgroup, for scope 'subtree': our processes move to the system cgroup and nobody
 * else's CPUs change (so the shield stays a 'member', not exclusive: a partition would take
 * its CPUs from every task outside it). Scope 'system' makes the shield a partition under the
 * root cgroup ('isolated' where the kernel offers it: no load balancing; else 'root'): the
 * kernel itself takes those CPUs from every cgroup outside it, so nothing has to move.
 * cgroup v2 moves processes, not threads (cgroup.procs): add() refuses a thread that is not
 * its process's leader instead of moving its whole process.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
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
  shieldFailure,
  subtreeProcesses,
  writeId,
} from './shield-backend.js';

/** The cgroup v2 mount whose root offers the cpuset controller, or null. */
export function cpusetV2Mount(): string | null {
  for (const { mountPoint, fstype } of mounts()) {
    if (fstype !== 'cgroup2') continue;
    try {
      if (read(path.join(mountPoint, 'cgroup.controllers')).split(' ').includes('cpuset')) {
        return mountPoint;
      }
    } catch {
      // not readable: not ours to use
    }
  }
  return null;
}

function cgroupOf(pid: number): string | null {
  try {
    const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
    return line === undefined ? null : line.slice(3);
  } catch {
    return null;
  }
}

function tgidOf(id: number): number | null {
  try {
    return Number(/^Tgid:\s+(\d+)/m.exec(readFileSync(`/proc/${id}/status`, 'utf8'))?.[1]);
  } catch {
    return null;
  }
}

/** Makes `dir` a partition ('isolated', else 'root'); returns what it reads back. */
function partition(dir: string): string {
  const file = path.join(dir, 'cpuset.cpus.partition');
  for (const kind of ['isolated', 'root']) {
    try {
      writeFileSync(file, kind);
      break;
    } catch {
      // 'isolated' came in 5.15; an invalid request fails the write on newer kernels
    }
  }
  return read(file);
}

/**
 * The v2 backend on the unified hierarchy mounted at `mount`.
 * @example
 * const b = v2Backend('/sys/fs/cgroup'); b.cpus('/'); // [0, 1]
 */
export function v2Backend(mount: string): ShieldBackend {
  const full = (rel: string) => path.join(mount, rel);
  return {
    version: 2,
    mount,
    base: (scope) => (scope === 'system' ? '/' : (cgroupOf(process.pid) ?? '/')),
    cpus: (base) => parseList(read(path.join(full(base), 'cpuset.cpus.effective'))),
    locate: cgroupOf,
    create(state: ShieldState, wanted: number[], rest: number[], scope: ShieldScope): Made {
      const control = path.join(full(state.base), 'cgroup.subtree_control');
      if (!read(control).split(' ').includes('cpuset')) {
        // cpuset is a threaded controller: a cgroup holding processes may still enable it.
        writeFileSync(control, '+cpuset');
        state.enabledCpuset = true;
      }
      for (const [dir, list] of [
        [state.shieldDir, wanted],
        [state.systemDir, rest],
      ] as const) {
        if (dir === null) continue;
        mkdirSync(full(dir));
        writeFileSync(path.join(full(dir), 'cpuset.cpus'), list.join(','));
      }
      if (scope === 'subtree') {
        return {
          exclusive: false,
          partition: read(path.join(full(state.shieldDir), 'cpuset.cpus.partition')),
        };
      }
      const got = partition(full(state.shieldDir));
      if (!/^(isolated|root)$/.test(got)) {
        // "root invalid (<reason>)" (6.1+), or "member": the kernel would not make it one.
        throw shieldFailure(
          `cannot make ${full(state.shieldDir)} a cpuset partition`,
          `cpuset.cpus.partition reads ${JSON.stringify(got)}`,
        );
      }
      return { exclusive: true, partition: got };
    },
    candidates(scope: ShieldScope): number[] {
      // 'system': the partition takes the CPUs from everyone else; nothing moves.
      return scope === 'system' ? [] : subtreeProcesses(process.pid);
    },
    move: (dir, pid) => writeId(path.join(dir, 'cgroup.procs'), pid),
    refuse(id: number): string | null {
      const tgid = tgidOf(id);
      return tgid !== null && tgid !== id
        ? `task ${id} is a thread of process ${tgid}: cgroup v2 moves whole processes (cgroup.procs), so pass the process id, or use sched_setaffinity for the thread`
        : null;
    },
    members: (dir) => ids(path.join(dir, 'cgroup.procs')),
    teardown(state: ShieldState): void {
      try {
        // Gives the CPUs back before the directory goes (rmdir would too; this is explicit).
        writeFileSync(path.join(full(state.shieldDir), 'cpuset.cpus.partition'), 'member');
      } catch {
        // not a partition, or already gone
      }
      for (const dir of [state.shieldDir, state.systemDir]) {
        if (dir === null) continue;
        try {
          rmdirSync(full(dir));
        } catch {
          // already gone, or a task raced in: the next recovery retries
        }
      }
      if (state.enabledCpuset) {
        try {
          writeFileSync(path.join(full(state.base), 'cgroup.subtree_control'), '-cpuset');
        } catch {
          // another child of base uses cpuset now: leave it enabled
        }
      }
    },
  };
}
