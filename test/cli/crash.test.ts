// Crash-only supervision (issue 20): `kill -9` of `core-process supervise` orphans nothing and a
// restarted supervisor never runs a second copy. Facts from /proc (cmdline, stat) and the
// cgroup v2 directory, not from the supervisor's own account.
import cp from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { cgroupBase } from '../../lib/process/cgroup.js';
import { eventually, scaled } from '../helpers.js';
import { asRoot } from '../optional.js';
import { Cli, type CliProcess, compiledCli, dead, type OnFinished, processesWith } from './cli.js';

const { itRoot } = asRoot('the crash test of setsid grandchildren (a writable cgroup v2)');

// These are the tests of the fallback where no PID namespace can be made (cgroup, PDEATHSIG
// and the next start's reaping); the default, a PID namespace that dies with the supervisor,
// is test/cli/supervise-pidns.test.ts. Every CLI started here inherits this.
process.env.CORE_PROCESS_NO_PIDNS = '1';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, scaled(120_000));

/** Live pids whose command line holds `token` (a unique sleep length). */
function liveWith(token: string): number[] {
  return processesWith(token)
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

/** Child cgroups named after `owner`, under our cgroup v2 directory. */
function cgroupsOf(owner: number): string[] {
  const base = cgroupBase();
  if (base === null) return [];
  return fs.readdirSync(base).filter((n) => n.startsWith(`core-process.${owner}.`));
}

const token = () => `${randomInt(100_000, 900_000)}.5`;

/**
 * A test's view of the command, plus: whatever still runs with `len` in its command line is
 * SIGKILLed when the test ends (before the command's own cleanup, which waits for pipes that
 * an orphaned grandchild would keep open).
 */
function setup(onTestFinished: OnFinished): { t: Cli; len: string } {
  const t = new Cli(bin, onTestFinished);
  const len = token();
  onTestFinished(() => {
    for (const pid of liveWith(len)) sigkill(pid);
  });
  return { t, len };
}

/** Resolves once the process has exited (not once its pipes close: orphans may hold them). */
async function exited(p: CliProcess): Promise<boolean> {
  return eventually(() => p.exited, 10_000);
}
const sigkill = (pid: number) => process.kill(pid, 'SIGKILL');
const cgroupNote = cgroupBase() === null ? ' (no writable cgroup v2: group only)' : '';

describe('core-process supervise, crash-only', { timeout: scaled(90_000) }, () => {
  it('good: kill -9 of the supervisor takes its child down with it (it used to live on under pid 1)', async ({
    expect,
    onTestFinished,
  }) => {
    const { t, len } = setup(onTestFinished);
    const sup = t.start(['supervise', '--restart', 'always', '--', 'sleep', len]);
    const child = Number((await sup.waitFor('stderr', /started pid (\d+)/))[1]);
    t.reap(child);
    expect(liveWith(len)).toEqual([child]);
    sigkill(sup.pid);
    expect(await exited(sup)).toBe(true);
    expect(await eventually(() => liveWith(len).length === 0, 10_000)).toBe(true);
  });

  itRoot(
    `good: a restarted supervisor kills the orphaned tree (background and setsid grandchildren) and runs exactly one copy${cgroupNote}`,
    async ({ expect, onTestFinished }) => {
      const { t, len } = setup(onTestFinished);
      const tree = `sleep ${len} & setsid sleep ${len} & exec sleep ${len}`;
      const args = ['supervise', '--name', 'tree', '--restart', 'always', '--', 'sh', '-c', tree];
      const first = t.start(args);
      const leader = Number((await first.waitFor('stderr', /started pid (\d+)/))[1]);
      t.reap(leader);
      expect(await eventually(() => liveWith(len).length === 3, 10_000)).toBe(true);
      const firstTree = liveWith(len);
      sigkill(first.pid);
      expect(await exited(first)).toBe(true);
      // PDEATHSIG takes the leader; the grandchildren are what only the cgroup still holds.
      expect(await eventually(() => dead(leader), 10_000)).toBe(true);

      const second = t.start(args);
      const next = Number((await second.waitFor('stderr', /started pid (\d+)/))[1]);
      t.reap(next);
      // Whoever started first after the crash cleaned up (this supervisor, or one of another
      // test running meanwhile): the old tree and its cgroup are gone either way.
      expect(cgroupsOf(first.pid)).toEqual([]);
      expect(await eventually(() => liveWith(len).length === 3, 10_000)).toBe(true);
      const now = liveWith(len);
      expect(now.filter((p) => firstTree.includes(p))).toEqual([]);
      expect(now).toContain(next);

      second.child.kill('SIGTERM');
      expect((await second.done).code).toBe(0);
      expect(await eventually(() => liveWith(len).length === 0, 10_000)).toBe(true);
      expect(cgroupsOf(second.pid)).toEqual([]);
    },
  );

  itRoot(
    'good: with --adopt the tree outlives kill -9 of the supervisor, other reapers spare it, and a restarted supervisor adopts it: one copy, restarted when it dies, stopped with it',
    async ({ expect, onTestFinished }) => {
      const { t, len } = setup(onTestFinished);
      const tree = `setsid sleep ${len} & exec sleep ${len}`;
      const args = [
        'supervise',
        '--adopt',
        '--name',
        'kept',
        '--restart',
        'always',
        '--backoff',
        '50ms',
      ];
      const first = t.start([...args, '--', 'sh', '-c', tree]);
      const leader = Number((await first.waitFor('stderr', /started pid (\d+)/))[1]);
      t.reap(leader);
      expect(await eventually(() => liveWith(len).length === 2, 10_000)).toBe(true);
      const kept = liveWith(len);
      // The tree's cgroup is named after the supervisor and leased to the child.
      const [cg] = cgroupsOf(first.pid);
      expect(cg).toBeDefined();
      const dir = path.join(cgroupBase() as string, cg as string);
      const lease = cp.execFileSync('python3', [
        '-c',
        'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], "user.core_process.lease").decode())',
        dir,
      ]);
      expect(String(lease)).toMatch(new RegExp(`^${leader}\\.\\d+$`));
      sigkill(first.pid);
      expect(await exited(first)).toBe(true);
      // Another reaper (the next command run) finds the supervisor gone and spares the tree.
      expect((await t.run(['daemons', 'list'])).code).toBe(0);
      expect(liveWith(len)).toEqual(kept);
      expect(fs.existsSync(dir)).toBe(true);

      const second = t.start([...args, '--', 'sh', '-c', tree]);
      await second.waitFor('stderr', new RegExp(`adopted pid ${leader}\\b`));
      expect(second.stderr).toContain(`previous child pid ${leader} is still running: adopting it`);
      expect(second.stderr).not.toMatch(/started pid/);
      expect(liveWith(len)).toEqual(kept);

      // The adopted child dies: its exit status is unknown to us, its tree is cleaned, and
      // exactly one new copy starts.
      sigkill(leader);
      const next = Number((await second.waitFor('stderr', /started pid (\d+)/))[1]);
      t.reap(next);
      expect(second.stderr).toMatch(/exited with an unknown status \(adopted\)/);
      expect(await eventually(() => liveWith(len).length === 2, 10_000)).toBe(true);
      expect(liveWith(len).filter((p) => kept.includes(p))).toEqual([]);
      expect(await eventually(() => !fs.existsSync(dir), 10_000)).toBe(true);

      second.child.kill('SIGTERM');
      expect((await second.done).code).toBe(0);
      expect(await eventually(() => liveWith(len).length === 0, 10_000)).toBe(true);
      expect(cgroupsOf(next)).toEqual([]);
    },
  );

  it('good: a previous child still running (recorded in the child PID file) is stopped before the new one starts', async ({
    expect,
    onTestFinished,
  }) => {
    const { t, len } = setup(onTestFinished);
    // A child that outlived its supervisor: started without dieWithParent, as an older
    // supervisor would have, in a group of its own.
    const old = cp.spawn('sleep', [len], { detached: true, stdio: 'ignore' });
    const oldPid = old.pid as number;
    t.reap(oldPid);
    const dir = path.join(t.state, 'core-process', 'daemons');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'default--sleep.child.pid'), `${oldPid}\n`);
    const sup = t.start(['supervise', '--restart', 'always', '--', 'sleep', len]);
    const child = Number((await sup.waitFor('stderr', /started pid (\d+)/))[1]);
    t.reap(child);
    expect(sup.stderr).toContain(`previous child pid ${oldPid} is still running: stopping it`);
    expect(dead(oldPid)).toBe(true);
    expect(liveWith(len)).toEqual([child]);
    expect(fs.readFileSync(path.join(dir, 'default--sleep.child.pid'), 'utf8')).toBe(`${child}\n`);
    sup.child.kill('SIGTERM');
    expect((await sup.done).code).toBe(0);
    expect(fs.existsSync(path.join(dir, 'default--sleep.child.pid'))).toBe(false);
  });
});

describe('core-process serve, crash-only', { timeout: scaled(90_000) }, () => {
  it('good: kill -9 of the host takes its non-detached processes and their trees down; a detached one lives on', async ({
    expect,
    onTestFinished,
  }) => {
    const { t, len } = setup(onTestFinished);
    const secret = 'crash-only-test-token-0123456789';
    const host = t.start(['serve', '--port', '0', '--token', secret]);
    const url = (await host.waitFor('stderr', /API on (http:\/\/\S+\/api\/process)/))[1];
    const post = async (body: Record<string, unknown>) => {
      const res = await fetch(`${url}/processes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBeLessThan(300);
    };
    await post({ command: 'sh', args: ['-c', `setsid sleep ${len} & exec sleep ${len}`] });
    const detachedLen = token();
    onTestFinished(() => {
      for (const pid of liveWith(detachedLen)) sigkill(pid);
    });
    await post({ command: 'sleep', args: [detachedLen], detach: true });
    expect(await eventually(() => liveWith(len).length === 2, 10_000)).toBe(true);
    expect(await eventually(() => liveWith(detachedLen).length === 1, 10_000)).toBe(true);
    sigkill(host.pid);
    expect(await exited(host)).toBe(true);
    if (cgroupBase() === null) {
      // Only PDEATHSIG: the setsid grandchild is out of reach without a cgroup.
      expect(await eventually(() => liveWith(len).length <= 1, 10_000)).toBe(true);
      return;
    }
    // The direct child died with the host; the next core (here `daemons`) removes the rest.
    const next = await t.run(['daemons', 'list']);
    expect(next.code).toBe(0);
    expect(await eventually(() => liveWith(len).length === 0, 10_000)).toBe(true);
    expect(cgroupsOf(host.pid)).toEqual([]);
    expect(liveWith(detachedLen)).toHaveLength(1);
  });
});
