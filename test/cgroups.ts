// Where a process's limit cgroups are, found the way lib/process/limits.ts places them: on
// cgroup v2 when the process's v2 cgroup offers the controller (a pure v2 host: every current
// distro), else on the controller's own v1 hierarchy (a hybrid host like the development
// machine). Tests read the limits from there, so they hold on both kinds of host.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cgroupBase } from '../lib/process/cgroup.js';

export type LimitController = 'memory' | 'pids' | 'cpu';

export interface ControllerDir {
  /** The cgroup directory carrying the controller. */
  dir: string;
  version: 1 | 2;
}

const mounts = () =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '));

function v1Mount(controller: string): string | undefined {
  return mounts().find((f) => f[2] === 'cgroup' && f[3]?.split(',').includes(controller))?.[1];
}

const controllersIn = (dir: string, file: string): string[] => {
  try {
    return readFileSync(path.join(dir, file), 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
};

/**
 * The directory `pid` is in for `controller`, and on which version, or undefined if the
 * controller is on neither hierarchy for it.
 *
 * @example
 * controllerDir(child.pid, 'pids'); // { dir: '/sys/fs/cgroup/core-process.41.88.1', version: 2 }
 */
export function controllerDir(pid: number, controller: LimitController): ControllerDir | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const unified = mounts().find((f) => f[2] === 'cgroup2')?.[1];
  const own = lines.find((l) => l.startsWith('0::'))?.slice(3);
  if (unified !== undefined && own !== undefined) {
    const dir = path.join(unified, own);
    if (controllersIn(dir, 'cgroup.controllers').includes(controller)) return { dir, version: 2 };
  }
  const mount = v1Mount(controller);
  for (const line of lines) {
    const [, list, dir] = line.split(':');
    if (mount !== undefined && dir !== undefined && list?.split(',').includes(controller)) {
      return { dir: path.join(mount, dir), version: 1 };
    }
  }
  return undefined;
}

/**
 * Where this process's new limit cgroups for `controller` are made: under our own v2 cgroup
 * when it delegates the controller to its children, else our directory on the v1 hierarchy.
 *
 * @example
 * limitParent('pids'); // { dir: '/sys/fs/cgroup/pids', version: 1 } on a hybrid host
 */
export function limitParent(controller: LimitController): ControllerDir | undefined {
  const base = cgroupBase();
  if (base !== null && controllersIn(base, 'cgroup.subtree_control').includes(controller)) {
    return { dir: base, version: 2 };
  }
  const own = controllerDir(process.pid, controller);
  return own?.version === 1 ? own : undefined;
}

/**
 * The limit a controller's files hold, in the v1 form (bytes, pids, quota in µs), read from
 * whichever version carries it: memory.max / memory.limit_in_bytes, pids.max, cpu.max's
 * quota / cpu.cfs_quota_us.
 *
 * @example
 * limitValue(controllerDir(pid, 'cpu')!, 'cpu'); // '10000'
 */
export function limitValue(at: ControllerDir, controller: LimitController): string {
  const read = (file: string) => readFileSync(path.join(at.dir, file), 'utf8').trim();
  if (controller === 'pids') return read('pids.max');
  if (controller === 'memory') {
    return read(at.version === 2 ? 'memory.max' : 'memory.limit_in_bytes');
  }
  return at.version === 2 ? (read('cpu.max').split(' ')[0] as string) : read('cpu.cfs_quota_us');
}

/** Whether any v1 hierarchy is mounted (a hybrid or legacy host). */
export function hasV1Hierarchy(): boolean {
  return mounts().some((f) => f[2] === 'cgroup');
}
