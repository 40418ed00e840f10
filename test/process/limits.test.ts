// Resource limits at spawn, each shown by the process that hits it: a fork bomb stopped at
// `pids`, a memory hog killed by the OOM killer, a spinner throttled by the CPU quota. The
// cgroups are read from /proc/<pid>/cgroup and the cgroup files themselves, from outside.
import cp from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessError, reapOrphanCgroups, spawn } from '../../lib/index.js';
import {
  type ControllerDir,
  controllerDir,
  hasV1Hierarchy,
  type LimitController,
  limitParent,
  limitValue,
} from '../cgroups.js';
import { eventually, procState, thrown } from '../helpers.js';
import { asRoot } from '../optional.js';

const { describeRoot } = asRoot('creating v1/v2 cgroups for limits');

// Where each limit is: on v2 where the child's cgroup offers the controller, else on v1.
const at = (pid: number, controller: LimitController): ControllerDir => {
  const d = controllerDir(pid, controller);
  if (d === undefined)
    throw new Error(`pid ${pid} is in no ${controller} cgroup (/proc/${pid}/cgroup)`);
  return d;
};
const v1Only = hasV1Hierarchy() ? it : it.skip;
if (!hasV1Hierarchy()) {
  process.stderr.write(
    '\nSKIPPED: the v1 orphan-reaper case needs a cgroup v1 hierarchy (a hybrid host); this host is pure v2, where test/process/orphans.test.ts covers the reaper\n',
  );
}

describeRoot('limits', () => {
  it('a fork bomb stops at pids: forks fail, limitsHit.pids > 0, and the cgroups are gone after the exit', async () => {
    const child = spawn({
      program: 'sh',
      // It waits for a line before the bomb: dash gives up at its first failed fork, and a
      // slow reader (the sanitizer run) found it already a zombie, out of every cgroup.
      args: ['-c', 'read go; i=0; while [ $i -lt 64 ]; do sleep 3 & i=$((i+1)); done; wait'],
      stdin: 'pipe',
      stderr: 'pipe',
      limits: { pids: 8 },
      timeout: 20_000,
    });
    const pids = at(child.pid, 'pids');
    const pidsDir = pids.dir;
    expect(path.basename(pidsDir)).toMatch(/^core-process\./);
    expect(limitValue(pids, 'pids')).toBe('8');
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // The tree never exceeds the limit while it runs.
    let peak = 0;
    const sample = setInterval(() => {
      try {
        peak = Math.max(peak, Number(readFileSync(path.join(pidsDir, 'pids.current'), 'utf8')));
      } catch {
        // removed at the end
      }
    }, 20);
    child.stdin?.end('go\n');
    const status = await child.exited;
    clearInterval(sample);
    expect(peak).toBeLessThanOrEqual(8);
    expect(status.limitsHit?.pids).toBeGreaterThan(0);
    // The shell's own report (the stream may trail the exit: the sleeps hold it open).
    expect(
      await eventually(() => /fork|Resource temporarily unavailable/i.test(stderr), 10_000),
    ).toBe(true);
    child.killTree('SIGKILL');
    expect(await eventually(() => !existsSync(pidsDir), 15_000)).toBe(true);
  });

  it('a memory hog ends SIGKILLed with oomKilled: true', async () => {
    const child = spawn({
      program: 'python3',
      // Allocates once told to, so the cgroup is read while the child is surely in it.
      args: ['-c', 'import sys; sys.stdin.readline(); b = bytearray(512 << 20)'],
      stdin: 'pipe',
      limits: { memoryBytes: 64 << 20 },
      timeout: 30_000,
    });
    const mem = at(child.pid, 'memory');
    const memDir = mem.dir;
    expect(path.basename(memDir)).toMatch(/^core-process\./);
    expect(limitValue(mem, 'memory')).toBe(String(64 << 20));
    child.stdin?.end('go\n');
    const status = await child.exited;
    expect(status.signal).toBe('SIGKILL');
    expect(status.oomKilled).toBe(true);
    expect(await eventually(() => !existsSync(memDir), 15_000)).toBe(true);
  });

  it('a process within its memory limit reports oomKilled: false', async () => {
    const status = await spawn({
      program: 'true',
      limits: { memoryBytes: 64 << 20 },
    }).exited;
    expect(status.code).toBe(0);
    expect(status.oomKilled).toBe(false);
    expect(status.limitsHit).toEqual({ pids: 0, cpuThrottledUs: 0 });
  });

  it('a CPU spinner is throttled: cpuThrottledUs > 0 and its CPU time stays near the quota', async () => {
    const child = spawn({
      program: 'sh',
      args: ['-c', 'while :; do :; done'],
      limits: { cpu: { percent: 10 } },
      timeout: 2000,
      killSignal: 'SIGKILL',
    });
    const cpu = at(child.pid, 'cpu');
    const cpuDir = cpu.dir;
    expect(path.basename(cpuDir)).toMatch(/^core-process\./);
    expect(limitValue(cpu, 'cpu')).toBe('10000');
    const status = await child.exited;
    expect(status.signal).toBe('SIGKILL');
    expect(status.limitsHit?.cpuThrottledUs).toBeGreaterThan(0);
    const cpuMs = status.rusage.userCpuMs + status.rusage.systemCpuMs;
    // 10% of the run plus one period of slack; unthrottled it would be close to 100%.
    expect(cpuMs).toBeLessThan(status.durationMs * 0.1 + 150);
    expect(await eventually(() => !existsSync(cpuDir), 15_000)).toBe(true);
  });

  it('a spawn that fails after its limit cgroups were made removes them (nothing leaks)', () => {
    const pidsBase = limitParent('pids')?.dir as string;
    expect(pidsBase).toBeDefined();
    const mine = () =>
      readdirSync(pidsBase).filter((n) => n.startsWith(`core-process.${process.pid}.`));
    const before = mine();
    const e = thrown(ProcessError, () =>
      spawn({ program: 'no-such-program-here', limits: { pids: 4 } }),
    );
    expect(e.kind).toBe('NotFound');
    expect(mine()).toEqual(before);
  });

  v1Only(
    'the orphan reaper empties and removes a v1 limit cgroup whose owner is gone',
    async () => {
      const pidsBase = limitParent('pids')?.dir as string;
      const parent = path.join(pidsBase, `orphans-test.${process.pid}.${Date.now()}`);
      mkdirSync(parent);
      const gone = cp.spawnSync('true').pid as number;
      const dir = path.join(parent, `core-process.${gone}.12345.1`);
      mkdirSync(dir);
      const sleeper = cp.spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
      try {
        writeFileSync(path.join(dir, 'cgroup.procs'), String(sleeper.pid));
        const orphans = await reapOrphanCgroups({ dir: parent });
        expect(orphans).toEqual([
          {
            path: dir,
            ownerPid: gone,
            killed: [{ pid: sleeper.pid, comm: 'sleep' }],
            removed: true,
          },
        ]);
        expect(await eventually(() => procState(sleeper.pid as number) !== 'S')).toBe(true);
        expect(existsSync(dir)).toBe(false);
      } finally {
        sleeper.kill('SIGKILL');
        rmdirSync(parent);
      }
    },
  );

  it("limits with containment 'none' are refused (a limit the tree could leave is no limit)", () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: 'true', limits: { pids: 4 }, containment: 'none' }),
    );
    expect(e.kind).toBe('InvalidCommand');
    expect(e.field).toBe('containment');
  });
});

describe('limits validation', () => {
  it('bad values are InvalidCommand naming the field, before anything is created', () => {
    expect(thrown(ProcessError, () => spawn({ program: 'true', limits: { pids: 0 } })).field).toBe(
      'limits.pids',
    );
    expect(
      thrown(ProcessError, () => spawn({ program: 'true', limits: { memoryBytes: 1.5 } })).field,
    ).toBe('limits.memoryBytes');
    expect(
      thrown(ProcessError, () => spawn({ program: 'true', limits: { cpu: { percent: -1 } } }))
        .field,
    ).toBe('limits.cpu.percent');
    expect(
      thrown(ProcessError, () =>
        spawn({ program: 'true', limits: { memory: 1 } as unknown as { memoryBytes: number } }),
      ).message,
    ).toContain("did you mean 'limits.memoryBytes'?");
  });
});
