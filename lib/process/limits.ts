/**
 * Resource limits at spawn (`limits`): memory, pids and CPU through cgroups, each set in a
 * cgroup the parent creates and opens and the child joins before exec, so nothing the child
 * forks escapes them. cgroup v2 where the controller is enabled for our containment cgroup,
 * v1 otherwise (hybrid hosts: each controller on its own hierarchy). A controller on neither,
 * or not writable, is a typed error naming it: never a child started without its limit.
 */
import { accessSync, constants, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { invalid, ProcessError } from '../errors.js';
import type { ExitStatus } from '../exit-status.js';
import { ChildCgroup, nextChildCgroupName } from './cgroup.js';
import { checkKnownKeys } from './keys.js';

/** CPU bandwidth: `quotaUs` of CPU time per `periodUs` (default 100 ms), or a percentage. */
export type CpuLimit = { quotaUs: number; periodUs?: number } | { percent: number };

export interface Limits {
  /** Bytes of memory (and, where the kernel accounts it, swap) for the whole tree. */
  memoryBytes?: number;
  /** Processes and threads the tree may hold at once; fork beyond it fails with EAGAIN. */
  pids?: number;
  /** `{ percent: 50 }` is half of one CPU (as systemd's CPUQuota=50%); 200 is two CPUs. */
  cpu?: CpuLimit;
}

type Controller = 'memory' | 'pids' | 'cpu';

interface Planned {
  memory?: number;
  pids?: number;
  cpu?: { quotaUs: number; periodUs: number };
}

const LIMIT_KEYS: ReadonlySet<string> = new Set(['memoryBytes', 'pids', 'cpu']);
const DEFAULT_PERIOD_US = 100_000;

function positiveInt(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(field, v, `must be an integer in ${min}..${max}`);
  }
  return v;
}

/**
 * Validates `limits`; undefined when none were asked for.
 *
 * @example
 * checkLimits({ memoryBytes: 256 << 20, cpu: { percent: 50 } });
 * // { memory: 268435456, cpu: { quotaUs: 50000, periodUs: 100000 } }
 */
export function checkLimits(value: unknown): Planned | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('limits', value, 'must be an object { memoryBytes?, pids?, cpu? }');
  }
  checkKnownKeys(value, LIMIT_KEYS, 'limits option', 'limits');
  const o = value as Limits;
  const out: Planned = {};
  if (o.memoryBytes !== undefined) {
    out.memory = positiveInt('limits.memoryBytes', o.memoryBytes, 1 << 20, 2 ** 53);
  }
  if (o.pids !== undefined) out.pids = positiveInt('limits.pids', o.pids, 1, 4_194_304);
  if (o.cpu !== undefined) {
    const c = o.cpu as Record<string, unknown>;
    if (c === null || typeof c !== 'object') {
      throw invalid('limits.cpu', c, 'must be { quotaUs, periodUs? } or { percent }');
    }
    if ('percent' in c) {
      checkKnownKeys(c, new Set(['percent']), 'limits.cpu option', 'limits.cpu');
      const p = c.percent;
      if (typeof p !== 'number' || !(p > 0 && p <= 100_000)) {
        throw invalid('limits.cpu.percent', p, 'must be a number above 0 (100 = one CPU)');
      }
      out.cpu = {
        quotaUs: Math.max(1000, Math.round((p / 100) * DEFAULT_PERIOD_US)),
        periodUs: DEFAULT_PERIOD_US,
      };
    } else {
      checkKnownKeys(c, new Set(['quotaUs', 'periodUs']), 'limits.cpu option', 'limits.cpu');
      const periodUs =
        c.periodUs === undefined
          ? DEFAULT_PERIOD_US
          : positiveInt('limits.cpu.periodUs', c.periodUs, 1000, 1_000_000);
      out.cpu = { quotaUs: positiveInt('limits.cpu.quotaUs', c.quotaUs, 1000, 2 ** 40), periodUs };
    }
  }
  return out;
}

function unsupported(controller: Controller, why: string): ProcessError {
  return new ProcessError('Unsupported', `limits: the ${controller} controller ${why}`, {
    field: `limits.${controller === 'memory' ? 'memoryBytes' : controller}`,
    code: 'ENOTSUP',
  });
}

/** Our own directory on the v1 hierarchy that carries `controller`, or null. */
function v1Dir(controller: Controller): string | null {
  let mount: string | undefined;
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [, mountPoint, type, opts] = line.split(' ');
    if (type === 'cgroup' && opts?.split(',').includes(controller)) mount = mountPoint;
  }
  if (mount === undefined) return null;
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, list, own] = line.split(':');
    if (list?.split(',').includes(controller) && own !== undefined) return path.join(mount, own);
  }
  return null;
}

/**
 * Our own directories on the v1 hierarchies limit cgroups are made in (memory, pids, cpu),
 * for the orphan reaper; [] on a pure v2 host.
 *
 * @example
 * limitHierarchies(); // ['/sys/fs/cgroup/memory/app', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/cpu']
 */
export function limitHierarchies(): string[] {
  const dirs = new Set<string>();
  for (const c of ['memory', 'pids', 'cpu'] as const) {
    try {
      const d = v1Dir(c);
      if (d !== null) dirs.add(d);
    } catch {
      // no /proc: nothing to reap either
    }
  }
  return [...dirs];
}

function controllersOf(v2: ChildCgroup | null): Set<string> {
  if (v2 === null) return new Set();
  try {
    return new Set(
      readFileSync(path.join(v2.path, 'cgroup.controllers'), 'utf8').trim().split(/\s+/),
    );
  } catch {
    return new Set();
  }
}

interface Placed {
  controller: Controller;
  version: 1 | 2;
  cgroup: ChildCgroup;
}

/**
 * The cgroups that carry one child's limits: the containment cgroup itself for controllers
 * v2 offers it, and one fresh v1 cgroup per other controller. Opened here, joined by the child,
 * read at exit (`annotate`), removed when empty (`removeWhenEmpty`).
 */
export class LimitCgroups {
  readonly #placed: Placed[];
  readonly #own: ChildCgroup[];

  /** @internal Use createLimitCgroups. */
  constructor(placed: Placed[], own: ChildCgroup[]) {
    this.#placed = placed;
    this.#own = own;
  }

  /** The fds the child must join besides the containment cgroup. */
  get fds(): number[] {
    return this.#own.map((c) => c.fd);
  }

  /** Directory of each limited controller, for diagnostics and tests. */
  get paths(): Record<string, string> {
    return Object.fromEntries(this.#placed.map((p) => [p.controller, p.cgroup.path]));
  }

  releaseFds(): void {
    for (const c of this.#own) c.releaseFd();
  }

  /** Removes the v1 directories now (a failed spawn: nothing joined them). */
  remove(): void {
    for (const c of this.#own) c.remove();
  }

  removeWhenEmpty(): void {
    for (const c of this.#own) c.removeWhenEmpty();
  }

  #read(controller: Controller, file: string): string {
    const p = this.#placed.find((x) => x.controller === controller);
    if (p === undefined) return '';
    try {
      return readFileSync(path.join(p.cgroup.path, file), 'utf8');
    } catch {
      return '';
    }
  }

  #field(controller: Controller, file: string, key: string): number {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(this.#read(controller, file));
    return m ? Number(m[1]) : 0;
  }

  /** Adds `oomKilled` and `limitsHit` to a reaped child's status from the cgroups' counters. */
  annotate(status: ExitStatus): void {
    const version = (c: Controller) => this.#placed.find((x) => x.controller === c)?.version;
    const mem = version('memory');
    if (mem !== undefined) {
      status.oomKilled =
        this.#field('memory', mem === 2 ? 'memory.events' : 'memory.oom_control', 'oom_kill') > 0;
    }
    const cpu = version('cpu');
    status.limitsHit = {
      pids: this.#field('pids', 'pids.events', 'max'),
      cpuThrottledUs:
        cpu === 2
          ? this.#field('cpu', 'cpu.stat', 'throttled_usec')
          : Math.round(this.#field('cpu', 'cpu.stat', 'throttled_time') / 1000),
    };
  }
}

function write(dir: string, file: string, value: string): void {
  writeFileSync(path.join(dir, file), value);
}

function apply(controller: Controller, version: 1 | 2, dir: string, plan: Planned): void {
  if (controller === 'memory' && plan.memory !== undefined) {
    const bytes = String(plan.memory);
    if (version === 2) {
      write(dir, 'memory.max', bytes);
      // Without this the tree could page out to swap instead of meeting the limit.
      try {
        write(dir, 'memory.swap.max', '0');
      } catch {
        // no swap accounting: nothing can be swapped past the limit then
      }
    } else {
      write(dir, 'memory.limit_in_bytes', bytes);
      try {
        write(dir, 'memory.memsw.limit_in_bytes', bytes);
      } catch {
        // no swap accounting (swapaccount=0): memory.limit_in_bytes is the whole limit
      }
    }
  } else if (controller === 'pids' && plan.pids !== undefined) {
    write(dir, 'pids.max', String(plan.pids));
  } else if (controller === 'cpu' && plan.cpu !== undefined) {
    if (version === 2) {
      write(dir, 'cpu.max', `${plan.cpu.quotaUs} ${plan.cpu.periodUs}`);
    } else {
      write(dir, 'cpu.cfs_period_us', String(plan.cpu.periodUs));
      write(dir, 'cpu.cfs_quota_us', String(plan.cpu.quotaUs));
    }
  }
}

/**
 * Creates and fills the limit cgroups for one spawn. `v2` is the child's containment cgroup
 * (null when there is none). Throws Unsupported or PermissionDenied naming the controller,
 * after removing whatever it had created.
 *
 * @example
 * const lc = createLimitCgroups({ pids: 64 }, containmentCgroup); // lc.fds -> [27]
 */
export function createLimitCgroups(plan: Planned, v2: ChildCgroup | null): LimitCgroups {
  const wanted: Controller[] = [];
  if (plan.memory !== undefined) wanted.push('memory');
  if (plan.pids !== undefined) wanted.push('pids');
  if (plan.cpu !== undefined) wanted.push('cpu');
  const onV2 = controllersOf(v2);
  const placed: Placed[] = [];
  const own: ChildCgroup[] = [];
  try {
    for (const controller of wanted) {
      if (v2 !== null && onV2.has(controller)) {
        apply(controller, 2, v2.path, plan);
        placed.push({ controller, version: 2, cgroup: v2 });
        continue;
      }
      const base = v1Dir(controller);
      if (base === null) {
        throw unsupported(controller, 'is enabled neither on cgroup v2 here nor mounted as v1');
      }
      try {
        accessSync(base, constants.W_OK);
      } catch {
        throw new ProcessError(
          'PermissionDenied',
          `limits: cannot create a cgroup under ${base} (the ${controller} controller, v1): not writable by uid ${process.getuid?.()}`,
          { field: 'limits', code: 'EACCES', path: base },
        );
      }
      const dir = path.join(base, nextChildCgroupName());
      mkdirSync(dir);
      const cg = new ChildCgroup(dir, openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY));
      own.push(cg);
      apply(controller, 1, dir, plan);
      placed.push({ controller, version: 1, cgroup: cg });
    }
  } catch (e) {
    for (const c of own) c.remove();
    if (e instanceof ProcessError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ProcessError(
      err.code === 'EACCES' || err.code === 'EPERM' ? 'PermissionDenied' : 'SpawnFailed',
      `limits: ${err.message}`,
      { field: 'limits', code: err.code, errno: err.errno, syscall: err.syscall, path: err.path },
    );
  }
  return new LimitCgroups(placed, own);
}
