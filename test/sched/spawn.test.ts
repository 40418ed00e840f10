// Scheduling, limits and ids at spawn: applied in the child before exec, so the program
// finds them in its own /proc/self files; cross-checked from outside with taskset and chrt.
// Runs in the default and the forced-clone projects (vitest.config.ts).
import { describe, expect, it } from 'vitest';
import {
  getAffinity,
  getNice,
  getScheduler,
  ProcessError,
  type ProcessHandle,
  run,
  type SpawnOptions,
  setAffinity,
  setNice,
  setScheduler,
  spawn,
} from '../../lib/index.js';
import { eventually, runningAsleep, trackChildren } from '../helpers.js';
import { asRoot } from '../optional.js';
import { chrtOf, niceOf, tasksetList } from './observe.js';

const { itRoot } = asRoot('realtime policies, uid/gid and the baseline reset at spawn');

const track = trackChildren();

const forcedClone = Boolean(process.env.CORE_PROCESS_FORCE_CLONE);

/** A sleeping child, once exec has completed. */
async function sleeper(options: Partial<SpawnOptions> = {}): Promise<ProcessHandle> {
  const h = spawn({ program: 'sleep', args: ['30'], stdin: 'null', stdout: 'null', ...options });
  track(h);
  expect(await eventually(() => runningAsleep(h.pid))).toBe(true);
  return h;
}

/** What the program itself reads from one of its own /proc/self files. */
async function ownProc(file: string, options: Partial<SpawnOptions>): Promise<string> {
  const r = await run('cat', [`/proc/self/${file}`], options);
  return r.stdout as string;
}

function statusLine(status: string, field: string): string {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
}

/** Fields of /proc/self/stat after the command name: [17] rt_priority... see proc(5). */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

describe('affinity at spawn', () => {
  it.each([[[0]], [[1]], [[0, 1]]])('the program starts already pinned to %j', async (cpus) => {
    const status = await ownProc('status', { affinity: cpus });
    expect(statusLine(status, 'Cpus_allowed_list')).toBe(
      cpus.length === 2 ? '0-1' : String(cpus[0]),
    );
  });

  it('taskset -p sees the pinning from outside, and the clone path was taken', async () => {
    const h = await sleeper({ affinity: [1] });
    expect(tasksetList(h.pid)).toEqual([1]);
    expect(h.spawnMethod).toBe('clone');
  });
});

describe('scheduler at spawn', () => {
  itRoot.each([
    ['fifo', 10, 'SCHED_FIFO', 1],
    ['rr', 5, 'SCHED_RR', 2],
  ] as const)(
    '%s %i: chrt -p and the program’s own stat agree',
    async (policy, priority, name, num) => {
      const h = await sleeper({ scheduler: { policy, priority } });
      expect(chrtOf(h.pid)).toEqual({ policy: name, priority });
      // posix_spawn carries other/fifo/rr itself; nothing else forces the clone path.
      expect(h.spawnMethod).toBe(forcedClone ? 'clone' : 'posix_spawn');
      const own = statFields(await ownProc('stat', { scheduler: { policy, priority } }));
      expect(Number(own[37])).toBe(priority); // rt_priority (field 40)
      expect(Number(own[38])).toBe(num); // policy (field 41)
    },
  );

  it.each([
    ['batch', 'SCHED_BATCH'],
    ['idle', 'SCHED_IDLE'],
  ] as const)('%s takes the clone path (posix_spawn refuses it) and chrt shows %s', async (policy, name) => {
    const h = await sleeper({ scheduler: { policy } });
    expect(chrtOf(h.pid).policy).toBe(name);
    expect(h.spawnMethod).toBe('clone');
  });

  itRoot('realtime priority defaults to 50 when only the policy is given', async () => {
    const h = await sleeper({ scheduler: { policy: 'fifo' } });
    expect(chrtOf(h.pid)).toEqual({ policy: 'SCHED_FIFO', priority: 50 });
  });

  itRoot('resetOnFork shows as SCHED_RESET_ON_FORK in chrt', async () => {
    const h = await sleeper({ scheduler: { policy: 'rr', priority: 3, resetOnFork: true } });
    expect(chrtOf(h.pid).policy).toBe('SCHED_RR|SCHED_RESET_ON_FORK');
  });
});

describe('nice, rlimits and ids at spawn', () => {
  it('nice 7 is the program’s own nice value, and ps agrees', async () => {
    expect(Number(statFields(await ownProc('stat', { nice: 7 }))[16])).toBe(7);
    const h = await sleeper({ nice: 7 });
    expect(niceOf(h.pid)).toBe(7);
  });

  it('rlimits set soft and hard, each or both, as the program reads /proc/self/limits', async () => {
    const limits = await ownProc('limits', {
      rlimits: {
        nofile: { soft: 256, hard: 512 },
        core: 0,
        fsize: { soft: 1 << 20, hard: 'unlimited' },
        stack: 8 << 20,
      },
    });
    const row = (label: string) => {
      const line = limits.split('\n').find((l) => l.startsWith(label)) ?? '';
      return line.slice(label.length).trim().split(/\s+/).slice(0, 2);
    };
    expect(row('Max open files')).toEqual(['256', '512']);
    expect(row('Max core file size')).toEqual(['0', '0']);
    expect(row('Max file size')).toEqual([String(1 << 20), 'unlimited']);
    expect(row('Max stack size')).toEqual([String(8 << 20), String(8 << 20)]);
  });

  itRoot(
    'uid and gid: the program runs as nobody with no supplementary groups left from root',
    async () => {
      const r = await run('sh', ['-c', 'id -u; id -g; id -G'], { uid: 65534, gid: 65534 });
      expect((r.stdout as string).trim().split('\n')).toEqual(['65534', '65534', '65534']);
    },
  );

  itRoot('the cwd is entered as the new user: /root is refused with EACCES at stage chdir', () => {
    let err: unknown;
    try {
      spawn({ program: 'true', cwd: '/root', uid: 65534, gid: 65534 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProcessError);
    expect(err).toMatchObject({ kind: 'PermissionDenied', code: 'EACCES', stage: 'chdir' });
  });

  itRoot('everything at once, with piped output still working', async () => {
    const r = await run(
      'sh',
      [
        '-c',
        'grep Cpus_allowed_list /proc/self/status; cut -d" " -f19 /proc/self/stat; ulimit -n; id -u',
      ],
      { affinity: [0], nice: 4, rlimits: { nofile: 300 }, uid: 65534, gid: 65534 },
    );
    expect((r.stdout as string).trim().split('\n')).toEqual([
      'Cpus_allowed_list:\t0',
      '4',
      '300',
      '65534',
    ]);
  });
});

describe('children do not inherit the spawning thread’s scheduling unless asked', () => {
  // The test's own thread is pinned, made realtime and niced; the process baseline (captured
  // when the addon loaded) is what children must get instead.
  // The nice value the run started under (10 under `nice -n 10 npm test`), read before any
  // test changes this thread: the baseline children get.
  const startNice = niceOf(process.pid);
  async function withThreadChanged<T>(body: () => Promise<T>): Promise<T> {
    const before = { cpus: getAffinity(), sched: getScheduler(), nice: getNice() };
    setAffinity(0, [1]);
    setNice(0, 3);
    setScheduler(0, { policy: 'fifo', priority: 5 });
    try {
      return await body();
    } finally {
      setScheduler(0, { policy: before.sched.policy as 'other', priority: before.sched.priority });
      setNice(0, before.nice);
      setAffinity(0, before.cpus);
    }
  }

  itRoot(
    'by default the child runs with the process baseline: all CPUs, SCHED_OTHER, the starting nice',
    async () => {
      const own = await withThreadChanged(async () => {
        const h = await sleeper();
        return { cpus: tasksetList(h.pid), sched: chrtOf(h.pid), nice: niceOf(h.pid) };
      });
      expect(own).toEqual({
        cpus: [0, 1],
        sched: { policy: 'SCHED_OTHER', priority: 0 },
        nice: startNice,
      });
    },
  );

  itRoot('inheritScheduling: true hands over the thread’s CPU, policy and nice', async () => {
    const own = await withThreadChanged(async () => {
      const h = await sleeper({ inheritScheduling: true });
      return { cpus: tasksetList(h.pid), sched: chrtOf(h.pid), nice: niceOf(h.pid) };
    });
    expect(own).toEqual({ cpus: [1], sched: { policy: 'SCHED_FIFO', priority: 5 }, nice: 3 });
  });

  itRoot('an explicit setting wins and the rest is still reset', async () => {
    const own = await withThreadChanged(async () => {
      const h = await sleeper({ affinity: [1] });
      return { cpus: tasksetList(h.pid), sched: chrtOf(h.pid).policy, nice: niceOf(h.pid) };
    });
    expect(own).toEqual({ cpus: [1], sched: 'SCHED_OTHER', nice: startNice });
  });

  itRoot('the thread itself is restored afterwards (taskset sees all CPUs again)', () => {
    expect(tasksetList(process.pid)).toEqual([0, 1]);
    expect(chrtOf(process.pid).policy).toBe('SCHED_OTHER');
  });
});

describe('bad input is refused before any child exists', () => {
  it.each([
    [{ affinity: [] }, 'affinity', /at least one CPU/],
    [{ affinity: [99] }, 'affinity', /CPU 99, which is not online \(online: 0-1\)/],
    [{ affinity: [0.5] }, 'affinity', /0\.5, which is not a CPU id/],
    [{ affinity: 1 }, 'affinity', /must be an array/],
    [
      { scheduler: { policy: 'fifo', priority: 0 } },
      'scheduler.priority',
      /1\.\.99 for policy 'fifo'/,
    ],
    [{ scheduler: { policy: 'rr', priority: 100 } }, 'scheduler.priority', /1\.\.99/],
    [
      { scheduler: { policy: 'other', priority: 5 } },
      'scheduler.priority',
      /must be 0 for policy 'other'/,
    ],
    [{ scheduler: { policy: 'edf' } }, 'scheduler.policy', /"edf" is not a policy/],
    [{ scheduler: { policy: 'deadline' } }, 'scheduler.runtimeNs', /runtimeNs: undefined must be/],
    [{ nice: 20 }, 'nice', /-20\.\.19/],
    [{ nice: -21 }, 'nice', /-20\.\.19/],
    [{ rlimits: { nofiles: 1 } }, 'rlimits key', /"nofiles" is not a resource limit/],
    [{ rlimits: { nofile: { soft: 10, hard: 5 } } }, 'rlimits.nofile', /soft limit above its hard/],
    [{ rlimits: { core: -1 } }, 'rlimits.core', /integer >= 0/],
    [{ uid: -1 }, 'uid', /numeric id/],
    [{ gid: 'root' }, 'gid', /numeric id/],
  ])('%j -> InvalidCommand on %s', (extra, field, message) => {
    let err: unknown;
    try {
      spawn({ program: 'true', ...(extra as Partial<SpawnOptions>) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProcessError);
    expect(err).toMatchObject({ kind: 'InvalidCommand', field });
    expect((err as Error).message).toMatch(message);
  });

  it('a limit the kernel refuses (nofile above fs.nr_open) is PermissionDenied naming it', () => {
    let err: unknown;
    try {
      spawn({ program: 'true', rlimits: { nofile: 2 ** 30 } });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({
      kind: 'PermissionDenied',
      code: 'EPERM',
      stage: 'rlimit',
      field: 'rlimits.nofile',
    });
    expect((err as Error).message).toMatch(
      /cannot set rlimit nofile to soft 1073741824, hard 1073741824/,
    );
  });
});
