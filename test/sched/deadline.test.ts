// SCHED_DEADLINE through sched_setattr, checked from outside with `chrt -p` (which prints
// the policy, the reset-on-fork flag and runtime/deadline/period) and with the kernel's own
// refusals: admission control (EBUSY) when the bandwidth is full, EPERM for a CPU set
// narrower than the root domain, and the rules checked before any syscall.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessError } from '../../lib/errors.js';
import type { ProcessHandle } from '../../lib/process/handle.js';
import { spawn } from '../../lib/process/spawn.js';
import { onlineCpus } from '../../lib/sched/cpus.js';
import { getScheduler, setScheduler } from '../../lib/sched/scheduler.js';
import { createThread } from '../../lib/thread/create.js';
import { joinThread } from '../../lib/thread/join.js';
import { eventually, runningAsleep } from '../helpers.js';
import { asRoot } from '../optional.js';

const { itRoot } = asRoot('SCHED_DEADLINE (CAP_SYS_NICE)');

const started: ProcessHandle[] = [];
afterEach(async () => {
  for (const c of started.splice(0)) {
    c.kill('SIGKILL');
    await c.exited;
  }
});

function sleeper(extra: Parameters<typeof spawn>[0] = { program: 'sleep' }): ProcessHandle {
  const c = spawn({ args: ['30'], ...extra, program: 'sleep' });
  started.push(c);
  return c;
}

function chrt(id: number): string {
  return execFileSync('chrt', ['-p', String(id)], { encoding: 'utf8' });
}

const DL = { policy: 'deadline', runtimeNs: 200_000, deadlineNs: 1_000_000, periodNs: 1_000_000 };

describe('SCHED_DEADLINE', () => {
  itRoot('at spawn: chrt -p shows SCHED_DEADLINE, reset-on-fork and 200000/1000000/1000000', () => {
    const c = sleeper({ program: 'sleep', scheduler: DL as never });
    expect(c.spawnMethod).toBe('clone'); // posix_spawn has no attribute for it
    const out = chrt(c.pid);
    expect(out).toMatch(/policy: SCHED_DEADLINE\|SCHED_RESET_ON_FORK/);
    expect(out).toMatch(/runtime\/deadline\/period parameters: 200000\/1000000\/1000000/);
    expect(getScheduler(c.pid)).toEqual({
      policy: 'deadline',
      priority: 0,
      resetOnFork: true,
      runtimeNs: 200_000,
      deadlineNs: 1_000_000,
      periodNs: 1_000_000,
    });
  });

  itRoot(
    'on a running pid, deadline defaulting to the period, without reset-on-fork when asked',
    () => {
      const c = sleeper();
      setScheduler(c.pid, {
        policy: 'deadline',
        runtimeNs: 300_000,
        periodNs: 2_000_000,
        resetOnFork: false,
      });
      const out = chrt(c.pid);
      expect(out).toMatch(/policy: SCHED_DEADLINE\n/);
      expect(out).toMatch(/parameters: 300000\/2000000\/2000000/);
    },
  );

  itRoot('reset-on-fork: what a deadline task forks runs at SCHED_OTHER', async () => {
    const c = spawn({
      program: 'sh',
      args: ['-c', 'sleep 30 & echo $!; wait'],
      stdout: 'pipe',
      scheduler: DL as never,
    });
    started.push(c);
    const line = await new Promise<string>((resolve) =>
      c.stdout?.once('data', (d: Buffer) => resolve(d.toString())),
    );
    const grandchild = Number(line.trim());
    try {
      expect(await eventually(() => runningAsleep(grandchild))).toBe(true);
      expect(chrt(c.pid)).toMatch(/SCHED_DEADLINE\|SCHED_RESET_ON_FORK/);
      expect(chrt(grandchild)).toMatch(/policy: SCHED_OTHER\n/);
    } finally {
      process.kill(grandchild, 'SIGKILL');
    }
  });

  itRoot(
    'for a thread: createThread priority deadline is what chrt -p shows for its tid',
    async () => {
      const t = await createThread(new URL('data:text/javascript,export default () => 1'), {
        priority: DL as never,
      });
      expect(chrt(t.tid)).toMatch(/SCHED_DEADLINE\|SCHED_RESET_ON_FORK/);
      expect(chrt(t.tid)).toMatch(/parameters: 200000\/1000000\/1000000/);
      expect((await joinThread(t, { timeout: 10_000 })).value).toBe(1);
    },
  );

  itRoot('over-admission is EBUSY with a message naming the bandwidth in use', () => {
    const rt = Number(readFileSync('/proc/sys/kernel/sched_rt_runtime_us', 'utf8'));
    const period = Number(readFileSync('/proc/sys/kernel/sched_rt_period_us', 'utf8'));
    const capacity = (rt / period) * onlineCpus().length;
    // Each task asks for a whole CPU (runtime = period): floor(capacity) fit at most.
    const full = { policy: 'deadline', runtimeNs: 1_000_000, periodNs: 1_000_000 } as const;
    let refused: ProcessError | undefined;
    for (let i = 0; i <= Math.ceil(capacity) && refused === undefined; i++) {
      const c = sleeper();
      try {
        setScheduler(c.pid, full);
      } catch (e) {
        refused = e as ProcessError;
      }
    }
    expect(refused).toBeInstanceOf(ProcessError);
    expect(refused?.code).toBe('EBUSY');
    expect(refused?.message).toContain('admission control is full');
    expect(refused?.message).toContain('sched_rt_runtime_us / sched_rt_period_us');
    expect(refused?.message).toMatch(/CPU is held by \d+ deadline task/);
    // The tasks it names are ours, admitted before the refusal.
    const admitted = started.filter((c) => /SCHED_DEADLINE/.test(chrt(c.pid)));
    expect(admitted.length).toBeGreaterThan(0);
    for (const c of admitted) expect(refused?.message).toContain(String(c.pid));
  });

  (onlineCpus().length < 2 ? it.skip : itRoot)(
    'pinned narrower than the root domain is EPERM explaining the exclusive cpuset',
    () => {
      let err: ProcessError | undefined;
      try {
        sleeper({ program: 'sleep', affinity: [1], scheduler: DL as never });
      } catch (e) {
        err = e as ProcessError;
      }
      expect(err?.kind).toBe('PermissionDenied');
      expect(err?.stage).toBe('scheduler');
      expect(err?.syscall).toBe('sched_setattr');
      expect(err?.message).toContain('exclusive cpuset');
    },
  );

  it('rules are checked before any syscall, naming the values', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [
        { runtimeNs: 2_000_000, periodNs: 1_000_000 },
        /runtimeNs <= deadlineNs <= periodNs \(here 2000000 \/ 1000000 \/ 1000000\)/,
      ],
      [
        { runtimeNs: 1000, periodNs: 1_000_000 },
        /runtimeNs: 1000 must be an integer number of ns >= 1024/,
      ],
      [{ runtimeNs: 2000, deadlineNs: 5000, periodNs: 3000 }, /here 2000 \/ 5000 \/ 3000/],
      [{ runtimeNs: 2000, periodNs: 1_000_000, priority: 5 }, /scheduler.priority/],
    ];
    for (const [spec, message] of bad) {
      let err: ProcessError | undefined;
      try {
        setScheduler(process.pid, { policy: 'deadline', ...spec } as never);
      } catch (e) {
        err = e as ProcessError;
      }
      expect(err?.kind).toBe('InvalidCommand');
      expect(err?.message).toMatch(message);
    }
    // Nothing was applied: the test process is still where it was.
    expect(chrt(process.pid)).not.toMatch(/DEADLINE/);
  });
});
