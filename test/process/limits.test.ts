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
import { limitHierarchies } from '../../lib/process/limits.js';
import { eventually, procState, thrown } from '../helpers.js';
import { asRoot } from '../optional.js';

const { describeRoot } = asRoot('creating v1/v2 cgroups for limits');

/** controller -> the directory the process is in on that hierarchy (v1 lines only). */
function v1Cgroups(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [, list, dir] = line.split(':');
    for (const c of list?.split(',') ?? []) {
      if (c === '' || dir === undefined) continue;
      const m = mounts.find((l) => {
        const f = l.split(' ');
        return f[2] === 'cgroup' && f[3]?.split(',').includes(c);
      });
      if (m) out[c] = path.join(m.split(' ')[1] as string, dir);
    }
  }
  return out;
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
    const dirs = v1Cgroups(child.pid);
    const pidsDir = dirs.pids as string;
    expect(path.basename(pidsDir)).toMatch(/^core-process\./);
    expect(readFileSync(path.join(pidsDir, 'pids.max'), 'utf8').trim()).toBe('8');
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
    const memDir = v1Cgroups(child.pid).memory as string;
    expect(readFileSync(path.join(memDir, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(
      String(64 << 20),
    );
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
    const cpuDir = v1Cgroups(child.pid).cpu as string;
    expect(readFileSync(path.join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('10000');
    const status = await child.exited;
    expect(status.signal).toBe('SIGKILL');
    expect(status.limitsHit?.cpuThrottledUs).toBeGreaterThan(0);
    const cpuMs = status.rusage.userCpuMs + status.rusage.systemCpuMs;
    // 10% of the run plus one period of slack; unthrottled it would be close to 100%.
    expect(cpuMs).toBeLessThan(status.durationMs * 0.1 + 150);
    expect(await eventually(() => !existsSync(cpuDir), 15_000)).toBe(true);
  });

  it('a spawn that fails after its limit cgroups were made removes them (nothing leaks)', () => {
    const pidsBase = limitHierarchies().find((d) => d.includes('/pids')) as string;
    const mine = () =>
      readdirSync(pidsBase).filter((n) => n.startsWith(`core-process.${process.pid}.`));
    const before = mine();
    const e = thrown(ProcessError, () =>
      spawn({ program: 'no-such-program-here', limits: { pids: 4 } }),
    );
    expect(e.kind).toBe('NotFound');
    expect(mine()).toEqual(before);
  });

  it('the orphan reaper empties and removes a v1 limit cgroup whose owner is gone', async () => {
    const pidsBase = limitHierarchies().find((d) => d.includes('/pids')) as string;
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
        { path: dir, ownerPid: gone, killed: [{ pid: sleeper.pid, comm: 'sleep' }], removed: true },
      ]);
      expect(await eventually(() => procState(sleeper.pid as number) !== 'S')).toBe(true);
      expect(existsSync(dir)).toBe(false);
    } finally {
      sleeper.kill('SIGKILL');
      rmdirSync(parent);
    }
  });

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
