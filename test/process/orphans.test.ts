// Orphaned cgroups: a cgroup whose owner (pid + start time in its name) is gone is emptied and
// removed; one whose owner lives, or whose pid now belongs to a later process, is left alone.
// Checked in a private parent cgroup so other tests' cgroups are never touched.
import cp from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { native } from '../../lib/native.js';
import { ChildCgroup, cgroupBase, LEASE_XATTR } from '../../lib/process/cgroup.js';
import { describeOrphans, reapOrphanCgroups } from '../../lib/process/orphans.js';
import { processStartTime } from '../../lib/process/proc.js';
import { eventually, procState } from '../helpers.js';

const base = cgroupBase();
if (base === null) {
  console.log(
    'orphans.test.ts: skipped, no writable cgroup v2 directory (run as root, or in a delegated cgroup)',
  );
  if (process.env.CI) throw new Error('CI needs a writable cgroup v2 for the orphan cgroup tests');
}

const alive = (pid: number) => {
  const s = procState(pid);
  return s !== null && s !== 'Z';
};

describe.skipIf(base === null)('reapOrphanCgroups', () => {
  let parent: string;
  const started: cp.ChildProcess[] = [];

  beforeEach(() => {
    parent = path.join(base as string, `orphans-test.${process.pid}.${Date.now()}`);
    mkdirSync(parent);
  });

  afterEach(() => {
    for (const c of started.splice(0)) c.kill('SIGKILL');
    try {
      rmdirSync(parent);
    } catch {
      // a failed test left something; the tests say what
    }
  });

  /** A sleep moved into a new cgroup `name` under the private parent. */
  function sleeperIn(name: string): { dir: string; pid: number } {
    const dir = path.join(parent, name);
    mkdirSync(dir);
    const c = cp.spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
    started.push(c);
    writeFileSync(path.join(dir, 'cgroup.procs'), String(c.pid));
    return { dir, pid: c.pid as number };
  }

  it('good: the cgroup of a gone owner is emptied (setsid members too) and removed, and said so', async () => {
    const gone = cp.spawnSync('true').pid as number;
    const { dir, pid } = sleeperIn(`core-process.${gone}.12345.1`);
    expect(readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')).toBe(`${pid}\n`);
    const orphans = await reapOrphanCgroups({ dir: parent });
    expect(orphans).toEqual([
      { path: dir, ownerPid: gone, killed: [{ pid, comm: 'sleep' }], removed: true },
    ]);
    expect(await eventually(() => !alive(pid))).toBe(true);
    expect(existsSync(dir)).toBe(false);
    expect(describeOrphans(orphans)).toEqual([
      `core-process: orphan cgroup ${dir} of gone pid ${gone}: killed ${pid} (sleep), removed`,
    ]);
  });

  it('bad: a live owner’s cgroup is left alone', async () => {
    const me = processStartTime(process.pid) as string;
    const { dir, pid } = sleeperIn(`core-process.${process.pid}.${me}.1`);
    expect(await reapOrphanCgroups({ dir: parent })).toEqual([]);
    expect(alive(pid)).toBe(true);
    expect(existsSync(dir)).toBe(true);
    process.kill(pid, 'SIGKILL');
    await eventually(() => !alive(pid));
    rmdirSync(dir);
  });

  it('good: a gone owner’s cgroup leased to a live child is spared, and reaped once that child is gone', async () => {
    const gone = cp.spawnSync('true').pid as number;
    const { dir, pid } = sleeperIn(`core-process.${gone}.12345.1`);
    const member = sleeperIn(`core-process.${gone}.12345.1/sub`);
    expect(new ChildCgroup(dir, null).leaseTo(pid)).toBe(true);
    expect(await reapOrphanCgroups({ dir: parent })).toEqual([]);
    expect(alive(pid) && alive(member.pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
    await eventually(() => !alive(pid));
    const orphans = await reapOrphanCgroups({ dir: parent });
    expect(orphans.map((o) => o.path)).toEqual([dir]);
    expect(await eventually(() => !alive(member.pid))).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  it('ugly: a lease naming a recycled pid (alive, another start time) does not protect the orphan', async () => {
    const gone = cp.spawnSync('true').pid as number;
    const { dir, pid } = sleeperIn(`core-process.${gone}.12345.1`);
    const stale = `${process.pid}.${Number(processStartTime(process.pid)) + 1}`;
    expect(native.setXattr(dir, LEASE_XATTR, stale)).toBe(0);
    expect((await reapOrphanCgroups({ dir: parent })).map((o) => o.path)).toEqual([dir]);
    expect(await eventually(() => !alive(pid))).toBe(true);
  });

  it('ugly: a recycled owner pid (alive, another start time) does not protect the orphan', async () => {
    const me = Number(processStartTime(process.pid));
    const { dir, pid } = sleeperIn(`core-process.${process.pid}.${me + 1}.1`);
    const orphans = await reapOrphanCgroups({ dir: parent });
    expect(orphans.map((o) => o.path)).toEqual([dir]);
    expect(await eventually(() => !alive(pid))).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });
});
