// `core-process supervise`: its plain event lines (stderr is not a terminal here), its exit
// codes, and what it does to processes, read from /proc and ps; the daemon registry is seen
// through `core-process daemons list --json` with the same XDG_STATE_HOME.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { eventually, ps, runningAsleep } from '../helpers.js';
import { Cli, compiledCli, dead, groupMembers, type OnFinished, pidsIn } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);

/** The event words of `[name] ...` lines, in order: started, exited, restarting, gave up... */
function events(stderr: string, name: string): string[] {
  const prefix = `[${name}] `;
  return stderr
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .map(
      (l) =>
        /^(started|exited|restarting|unhealthy|gave up|stopped)\b/.exec(
          l.slice(prefix.length),
        )?.[1] ?? l,
    );
}

// Concurrent: the tests mostly wait on processes; the bound allows for a loaded machine.
describe.concurrent('core-process supervise', { timeout: 60_000 }, () => {
  it('bad: a child that keeps failing is restarted --max-restarts times, then it gives up with exit 1', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run([
      'supervise',
      '--restart',
      'on-failure',
      '--max-restarts',
      '2',
      '--backoff',
      '20ms',
      '--',
      'sh',
      '-c',
      'exit 1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('\x1b'); // plain lines, no terminal redrawing
    expect(events(r.stderr, 'sh')).toEqual([
      'started',
      'exited',
      'restarting',
      'started',
      'exited',
      'restarting',
      'started',
      'exited',
      'gave up',
    ]);
    const pids = pidsIn(r.stderr, /^\[sh\] started pid (\d+)$/gm);
    expect(new Set(pids).size).toBe(3);
    expect(r.stderr).toMatch(/^\[sh\] exited with code 1 after /m);
    expect(r.stderr).toMatch(/^\[sh\] restarting in \d+ ms \(exited with code 1\), attempt 1$/m);
    expect(r.stderr).toMatch(/^\[sh\] restarting in \d+ ms \(exited with code 1\), attempt 2$/m);
    expect(r.stderr).toMatch(/^\[sh\] gave up: .*maxRestarts 2/m);
  });

  it("good: --restart never runs the child once and exits with the child's code", async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run([
      'supervise',
      '--restart',
      'never',
      '--',
      'sh',
      '-c',
      'exit 4',
    ]);
    expect(r.code).toBe(4);
    expect(events(r.stderr, 'sh')).toEqual(['started', 'exited', 'stopped']);
    expect(r.stderr).toMatch(/^\[sh\] exited with code 4 after /m);
  });

  it("good: SIGTERM stops the child's whole group and exits 0; the registry lists the supervisor only while it runs", async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const p = t.start(['supervise', '--name', 'grp', '--', 'sh', '-c', 'sleep 30 & wait']);
    const child = Number((await p.waitFor('stderr', /^\[grp\] started pid (\d+)$/m))[1]);
    // Found from outside: in a PID namespace (the default where one can be made) the pids the
    // shell knows are the namespace's, and `child` is our init, one more member of the group.
    let grandchild = 0;
    expect(
      await eventually(() => {
        grandchild = groupMembers(child).find((m) => runningAsleep(m)) ?? 0;
        return grandchild !== 0;
      }),
    ).toBe(true);
    t.reap(child);
    t.reap(grandchild);
    expect(Number(ps(child, 'pgid')[0])).toBe(child);
    expect(Number(ps(grandchild, 'pgid')[0])).toBe(child);

    const listed = await t.run(['daemons', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([
      { code: 'default', daemon: 'grp', pid: p.pid, binary: 'sh' },
    ]);

    p.child.kill('SIGTERM');
    const r = await p.done;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(dead(child)).toBe(true);
    expect(dead(grandchild)).toBe(true);
    expect(groupMembers(child)).toEqual([]);
    expect(events(r.stderr, 'grp').slice(-2)).toEqual(['exited', 'stopped']);

    const after = await t.run(['daemons', 'list', '--json']);
    expect(JSON.parse(after.stdout)).toEqual([]);
  });

  it('good: a failing --health-cmd makes it restart the child', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const p = t.start([
      'supervise',
      '--name',
      'sick',
      '--health-cmd',
      'false',
      '--health-interval',
      '50ms',
      '--health-threshold',
      '2',
      '--backoff',
      '20ms',
      '--stop-grace',
      '1s',
      '--',
      'sleep',
      '30',
    ]);
    const m = await p.waitFor('stderr', /started pid (\d+)[\s\S]*started pid (\d+)/);
    const [first, second] = [Number(m[1]), Number(m[2])];
    t.reap(first);
    t.reap(second);
    expect(second).not.toBe(first);
    expect(dead(first)).toBe(true);
    const before = p.stderr.slice(0, p.stderr.indexOf(`started pid ${second}`));
    expect(before).toMatch(/^\[sick\] unhealthy \(2\/2\): /m);
    expect(before).toMatch(/^\[sick\] restarting in \d+ ms \(unhealthy\), attempt 1$/m);
    p.child.kill('SIGTERM');
    expect((await p.done).code).toBe(0);
  });

  it('bad: a second supervisor with the same --pid-file fails while the first holds it', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const pidFile = path.join(t.dir, 'web.pid');
    const first = t.start([
      'supervise',
      '--name',
      'one',
      '--pid-file',
      pidFile,
      '--',
      'sleep',
      '30',
    ]);
    const child = Number((await first.waitFor('stderr', /started pid (\d+)/))[1]);
    t.reap(child);
    expect(fs.readFileSync(pidFile, 'utf8').split('\n')[0]).toBe(String(first.pid));

    const second = await t.run([
      'supervise',
      '--name',
      'two',
      '--pid-file',
      pidFile,
      '--',
      'sleep',
      '30',
    ]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(new RegExp(`held by pid ${first.pid}\\b`));
    expect(second.stderr).not.toMatch(/started pid/);
    expect(dead(first.pid)).toBe(false);
    expect(dead(child)).toBe(false);

    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
    expect(await eventually(() => dead(child))).toBe(true);
    expect(fs.existsSync(pidFile)).toBe(false);
  });

  it('ugly: a SIGTERM that comes the moment the child starts stops it cleanly: exit 0, child gone', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    // The supervisor is signalled the moment it says the child started. (The child cannot
    // signal it itself: in a PID namespace its $PPID is our init, which forwards to it.)
    const p = t.start(['supervise', '--name', 'early', '--', 'sleep', '30']);
    await p.waitFor('stderr', /started pid \d+/);
    p.child.kill('SIGTERM');
    const r = await p.done;
    const child = Number(/started pid (\d+)/.exec(r.stderr)?.[1]);
    t.reap(child);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(dead(child)).toBe(true);
    expect(events(r.stderr, 'early')).toEqual(['started', 'exited', 'stopped']);
  });

  it.skipIf(!fs.existsSync('/usr/bin/script'))(
    "good: on a terminal it redraws a status line instead of event lines, and exits with the child's code",
    async ({ expect, onTestFinished }) => {
      const r = await cli(onTestFinished).runOnTerminal([
        'supervise',
        '--restart',
        'never',
        '--',
        'sh',
        '-c',
        'exit 4',
      ]);
      expect(r.code).toBe(4);
      expect(r.stdout).not.toMatch(/before initialization|\[sh\] started/);
      expect(r.stdout).toContain('\x1b['); // redrawn in place
      expect(r.stdout).toContain('sh ○ stopped · restarts 0');
      // After the last redraw (log-update's cursor codes lead the line), the reason.
      expect(r.stdout).toMatch(/sh: exited with code 4\r?\n/);
    },
  );

  it('bad: an unknown --restart policy or --health scheme is a usage error: exit 2 naming it', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const marker = path.join(t.dir, 'ran');
    const [policy, scheme] = await Promise.all([
      t.run(['supervise', '--restart', 'sometimes', '--', 'touch', marker]),
      t.run(['supervise', '--health', 'ftp://127.0.0.1/x', '--', 'touch', marker]),
    ]);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toMatch(/'--restart <policy>' argument 'sometimes' is invalid/);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/--health "ftp:\/\/127\.0\.0\.1\/x"/);
    expect(fs.existsSync(marker)).toBe(false);
  });
});
