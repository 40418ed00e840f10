// `core-process run`: what it applies to the child is reported by the child itself, from its
// first instruction after exec, or read from outside while it sleeps (taskset, chrt,
// /proc/<pid>/limits, ps); exit codes are the real ones core-process exits with.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { eventually, procStatusField, ps, runningAsleep } from '../helpers.js';
import { chrtOf, limitOf, niceOf, parseCpuList, tasksetList } from '../sched/observe.js';
import { Cli, compiledCli, dead, type OnFinished } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);

// The CPUs we may use; the child is pinned to the last, which differs from what it would
// inherit whenever there are two or more.
const allowed = parseCpuList(procStatusField('self', 'Cpus_allowed_list'));
const pin = allowed[allowed.length - 1] as number;
const root = process.getuid?.() === 0;

/** Fields of a /proc/<pid>/stat line, numbered as proc(5) numbers them (1 = pid). */
function statField(line: string, n: number): number {
  return Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[n - 3]);
}

// RunSummary (lib/cli/summary.ts), written here from its documented fields.
const nonNegative = z.number().nonnegative();
const count = z.int().nonnegative();
const runSummarySchema = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()),
  pid: z.int().positive(),
  exitCode: z.int().min(0).max(255).nullable(),
  signal: z
    .string()
    .regex(/^SIG[A-Z0-9]+$/)
    .nullable(),
  timedOut: z.boolean(),
  exitStatus: z.int().min(0).max(255),
  wallMs: nonNegative,
  userCpuMs: nonNegative,
  systemCpuMs: nonNegative,
  maxRssKb: z.int().positive(),
  maxRssIsUpperBound: z.boolean(),
  minorFaults: count,
  majorFaults: count,
  voluntaryCtxSwitches: count,
  involuntaryCtxSwitches: count,
  applied: z.strictObject({
    cpus: z.array(count).nullable(),
    scheduler: z.strictObject({ policy: z.string(), priority: z.int().optional() }).nullable(),
    nice: z.int().nullable(),
    rlimits: z.record(z.string(), z.unknown()).nullable(),
  }),
});

/** stderr must be exactly one line holding one JSON object: the summary. */
function summaryOf(stderr: string): z.infer<typeof runSummarySchema> {
  const lines = stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return runSummarySchema.parse(JSON.parse(lines[0] as string));
}

const SUMMARY_LINE =
  /^sh: (.+) · wall \d+\.\d{3}s · user \d+\.\d{3}s · sys \d+\.\d{3}s · max RSS (≤ )?\d+\.\d MiB · ctx \d+ vol \/ \d+ invol$/m;

// Concurrent: the tests mostly wait on processes; the bound allows for a loaded machine.
describe.concurrent('core-process run', { timeout: 60_000 }, () => {
  it.skipIf(!root).for([
    { flags: ['--fifo', '7'], policy: 'SCHED_FIFO', priority: 7 },
    { flags: ['--rr', '9'], policy: 'SCHED_RR', priority: 9 },
    { flags: ['--batch'], policy: 'SCHED_BATCH', priority: 0 },
    { flags: ['--idle'], policy: 'SCHED_IDLE', priority: 0 },
  ])(
    'good: $flags gives the child $policy at priority $priority before exec',
    async ({ flags, policy, priority }, { expect, onTestFinished }) => {
      const r = await cli(onTestFinished).run(['run', '-q', ...flags, '--', 'chrt', '-p', '0']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`scheduling policy: ${policy}\\b`));
      expect(r.stdout).toMatch(new RegExp(`scheduling priority: ${priority}$`, 'm'));
    },
  );

  it('good: --nice sets the niceness before exec', async ({ expect, onTestFinished }) => {
    const r = await cli(onTestFinished).run([
      'run',
      '-q',
      '--nice',
      '7',
      '--',
      'sh',
      '-c',
      'cat /proc/$$/stat',
    ]);
    expect(r.code).toBe(0);
    expect(statField(r.stdout, 19)).toBe(7);
  });

  it('good: --rlimit nofile=100:200 sets the soft and hard limit before exec', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run([
      'run',
      '-q',
      '--rlimit',
      'nofile=100:200',
      '--',
      'sh',
      '-c',
      'ulimit -Sn; ulimit -Hn',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('100\n200\n');
  });

  it.skipIf(!root || allowed.length < 2)(
    'good: --cpus, --fifo, --nice and --rlimit are in force from exec on, inside and out',
    async ({ expect, onTestFinished }) => {
      const t = cli(onTestFinished);
      const p = t.start([
        'run',
        '--cpus',
        String(pin),
        '--fifo',
        '5',
        '--nice',
        '3',
        '--rlimit',
        'nofile=100:200',
        '--',
        'sh',
        '-c',
        'grep Cpus_allowed_list /proc/$$/status; ulimit -Sn; ulimit -Hn; echo pid $$; exec sleep 30',
      ]);
      const pid = Number((await p.waitFor('stdout', /pid (\d+)/))[1]);
      t.reap(pid);
      // What the child saw of itself before anything else ran...
      expect(p.stdout).toMatch(new RegExp(`^Cpus_allowed_list:\\s+${pin}\n100\n200\npid `));
      // ...and what the kernel shows from outside once it sleeps.
      expect(await eventually(() => runningAsleep(pid))).toBe(true);
      expect(tasksetList(pid)).toEqual([pin]);
      expect(chrtOf(pid)).toEqual({ policy: 'SCHED_FIFO', priority: 5 });
      expect(niceOf(pid)).toBe(3);
      expect(limitOf(pid, 'Max open files')).toEqual({ soft: '100', hard: '200' });
      process.kill(pid, 'SIGKILL');
      expect((await p.done).code).toBe(137);
    },
  );

  it.skipIf(!root)(
    'good: --deadline 200us/1ms/1ms is SCHED_DEADLINE with reset-on-fork in chrt -p',
    async ({ expect, onTestFinished }) => {
      const t = cli(onTestFinished);
      const p = t.start([
        'run',
        '--deadline',
        '200us/1ms/1ms',
        '--',
        'sh',
        '-c',
        'echo pid $$; exec sleep 30',
      ]);
      const pid = Number((await p.waitFor('stdout', /pid (\d+)/))[1]);
      t.reap(pid);
      const out = execFileSync('chrt', ['-p', String(pid)], { encoding: 'utf8' });
      expect(out).toMatch(/policy: SCHED_DEADLINE\|SCHED_RESET_ON_FORK/);
      expect(out).toMatch(/parameters: 200000\/1000000\/1000000/);
      process.kill(pid, 'SIGKILL');
      expect((await p.done).code).toBe(137);
    },
  );

  it('bad: --deadline with runtime above the deadline is refused naming the values', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const r = await t.run(['run', '--deadline', '2ms/1ms/1ms', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'runtimeNs <= deadlineNs <= periodNs (here 2000000 / 1000000 / 1000000)',
    );
    const unparsable = await t.run(['run', '--deadline', '2ms/1ms', '--', 'true']);
    expect(unparsable.code).not.toBe(0);
    expect(unparsable.stderr).toContain('is not RUNTIME/DEADLINE/PERIOD');
  });

  it('good: --rt-node starts node with the realtime GC flags; bad: not for another program', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const r = await t.run([
      'run',
      '-q',
      '--rt-node',
      '--',
      process.execPath,
      '-p',
      "process.execArgv.join(' ')",
    ]);
    expect(r.code).toBe(0);
    // execArgv: the flags --rt-node inserted, then node's own -p and its script.
    expect(r.stdout.trim()).toMatch(
      /^--single-threaded-gc --min-semi-space-size=16 --max-semi-space-size=16 --no-memory-reducer -p /,
    );
    const bad = await t.run(['run', '--rt-node', '--', 'true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--rt-node needs a node program');
  });

  it('good: --cwd and --env reach the child, over the environment it inherits', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const r = await t.run(
      ['run', '-q', '--cwd', t.state, '--env', 'CLI_TEST_SET=a=b', '--', 'sh', '-c', 'pwd; env'],
      { env: { CLI_TEST_INHERITED: 'yes' } },
    );
    expect(r.code).toBe(0);
    const [pwd, ...env] = r.stdout.trimEnd().split('\n');
    expect(pwd).toBe(fs.realpathSync(t.state));
    expect(env).toContain('CLI_TEST_SET=a=b');
    expect(env).toContain('CLI_TEST_INHERITED=yes');
  });

  it('good: --clear-env starts the child with only the --env variables', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(
      ['run', '-q', '--clear-env', '--env', 'ONLY=1', '--', 'env'],
      { env: { CLI_TEST_INHERITED: 'yes' } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ONLY=1\n');
  });

  it("good: the child's exit code passes through; stdout is the child's, the summary line is on stderr", async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run([
      'run',
      '--',
      'sh',
      '-c',
      'echo out-line; echo err-line >&2; exit 3',
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('out-line\n');
    expect(r.stderr.split('\n')).toContain('err-line');
    expect(SUMMARY_LINE.exec(r.stderr)?.[1]).toBe('exit 3');
  });

  it('good: --quiet prints no summary', async ({ expect, onTestFinished }) => {
    const r = await cli(onTestFinished).run(['run', '--quiet', '--', 'sh', '-c', 'exit 0']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('good: a child killed by a signal makes core-process exit 128 + its number', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(['run', '--', 'sh', '-c', 'kill -KILL $$']);
    expect(r.code).toBe(137);
    expect(r.signal).toBeNull();
    expect(SUMMARY_LINE.exec(r.stderr)?.[1]).toBe('killed by SIGKILL');
  });

  it('good: --timeout signals the child, exits 143, and the JSON says it timed out', async ({
    expect,
    onTestFinished,
  }) => {
    const started = Date.now();
    const r = await cli(onTestFinished).run([
      'run',
      '--json',
      '--timeout',
      '300ms',
      '--',
      'sleep',
      '60',
    ]);
    expect(r.code).toBe(143);
    // A generous bound, far below the child's own 60 s.
    expect(Date.now() - started).toBeLessThan(20_000);
    const s = summaryOf(r.stderr);
    expect(s).toMatchObject({
      command: 'sleep',
      args: ['60'],
      timedOut: true,
      signal: 'SIGTERM',
      exitCode: null,
      exitStatus: 143,
    });
    expect(dead(s.pid)).toBe(true);
  });

  it('good: --kill-after sends SIGKILL to a child that ignores the timeout signal', async ({
    expect,
    onTestFinished,
  }) => {
    const started = Date.now();
    // An ignored signal stays ignored across exec: sleep itself ignores SIGTERM.
    const r = await cli(onTestFinished).run([
      'run',
      '--json',
      '--timeout',
      '300ms',
      '--kill-after',
      '300ms',
      '--',
      'sh',
      '-c',
      'trap "" TERM; exec sleep 60',
    ]);
    expect(r.code).toBe(137);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(summaryOf(r.stderr)).toMatchObject({
      timedOut: true,
      signal: 'SIGKILL',
      exitStatus: 137,
    });
  });

  it('good: with --group the child leads its own process group; without, it stays in ours', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const script = 'echo pid $$; exec sleep 30';
    const grouped = t.start(['run', '--group', '--', 'sh', '-c', script]);
    const plain = t.start(['run', '--', 'sh', '-c', script]);
    const g = Number((await grouped.waitFor('stdout', /pid (\d+)/))[1]);
    const n = Number((await plain.waitFor('stdout', /pid (\d+)/))[1]);
    t.reap(g);
    t.reap(n);
    const pgidOf = (pid: number) => Number(ps(pid, 'pgid')[0]);
    expect(pgidOf(g)).toBe(g);
    expect(pgidOf(n)).toBe(pgidOf(plain.pid));
    expect(pgidOf(n)).not.toBe(n);
    process.kill(g, 'SIGKILL');
    process.kill(n, 'SIGKILL');
    expect((await grouped.done).code).toBe(137);
    expect((await plain.done).code).toBe(137);
  });

  it('good: with --group a timeout kills the grandchildren too', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const r = await t.run([
      'run',
      '--group',
      '--timeout',
      '300ms',
      '--',
      'sh',
      '-c',
      'sleep 30 & echo $!; wait',
    ]);
    const grandchild = Number(r.stdout.trim());
    t.reap(grandchild);
    expect(r.code).toBe(143);
    expect(grandchild).toBeGreaterThan(0);
    expect(await eventually(() => dead(grandchild))).toBe(true);
  });

  it('ugly: without --group a timeout reaches only the child; its grandchild lives on', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    // The grandchild lets go of our pipes, so core-process's end is seen while it lives.
    const r = await t.run([
      'run',
      '--timeout',
      '300ms',
      '--',
      'sh',
      '-c',
      'sleep 30 >/dev/null 2>&1 & echo $!; wait',
    ]);
    const grandchild = Number(r.stdout.trim());
    t.reap(grandchild);
    expect(r.code).toBe(143);
    expect(dead(grandchild)).toBe(false);
    expect(fs.readFileSync(`/proc/${grandchild}/comm`, 'utf8').trim()).toBe('sleep');
  });

  it('good: SIGTERM sent to core-process is passed to the child, and core-process exits 143', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const p = t.start(['run', '--json', '--', 'sh', '-c', 'echo pid $$; exec sleep 30']);
    const pid = Number((await p.waitFor('stdout', /pid (\d+)/))[1]);
    t.reap(pid);
    expect(await eventually(() => runningAsleep(pid))).toBe(true);
    p.child.kill('SIGTERM');
    const r = await p.done;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(143);
    expect(dead(pid)).toBe(true);
    expect(summaryOf(r.stderr)).toMatchObject({ pid, signal: 'SIGTERM', timedOut: false });
  });

  it('ugly: a SIGTERM that comes the moment the child starts is passed on, not fatal to core-process', async ({
    expect,
    onTestFinished,
  }) => {
    // The child signals core-process first thing, while it is still starting up.
    const r = await cli(onTestFinished).run([
      'run',
      '--json',
      '--',
      'sh',
      '-c',
      'kill -TERM $PPID; exec sleep 30 >/dev/null 2>&1',
    ]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(143);
    const s = summaryOf(r.stderr);
    expect(s).toMatchObject({ signal: 'SIGTERM', timedOut: false });
    expect(dead(s.pid)).toBe(true);
  });

  it('good: with --group, SIGINT sent to core-process is passed to the child', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const p = t.start(['run', '--group', '--json', '--', 'sh', '-c', 'echo pid $$; exec sleep 30']);
    const pid = Number((await p.waitFor('stdout', /pid (\d+)/))[1]);
    t.reap(pid);
    expect(await eventually(() => runningAsleep(pid))).toBe(true);
    p.child.kill('SIGINT');
    const r = await p.done;
    expect(r.code).toBe(130);
    expect(summaryOf(r.stderr)).toMatchObject({ pid, signal: 'SIGINT' });
  });

  it("good: --json prints one JSON summary on stderr whose pid is the child's own", async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run([
      'run',
      '--json',
      '--cpus',
      String(pin),
      '--batch',
      '--nice',
      '2',
      '--rlimit',
      'nofile=100:200',
      '--rlimit',
      'core=0',
      '--',
      'sh',
      '-c',
      'echo $$',
    ]);
    expect(r.code).toBe(0);
    const s = summaryOf(r.stderr);
    expect(s.pid).toBe(Number(r.stdout.trim()));
    expect(s).toMatchObject({
      command: 'sh',
      args: ['-c', 'echo $$'],
      exitCode: 0,
      signal: null,
      timedOut: false,
      exitStatus: 0,
      applied: {
        cpus: [pin],
        scheduler: { policy: 'batch' },
        nice: 2,
        rlimits: { nofile: { soft: 100, hard: 200 }, core: 0 },
      },
    });
  });

  it('bad: a program that is not found exits 127 with a message naming it', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(['run', '--', 'no-such-program-zz', 'x']);
    expect(r.code).toBe(127);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/no-such-program-zz/);
    expect(r.stderr).toMatch(/not found/);
  });

  it.for([
    { args: ['--bogus'], names: /unknown option '--bogus'/ },
    { args: ['--cpus', '0,x'], names: /'--cpus <list>' argument '0,x' is invalid/ },
    { args: ['--nice', '50'], names: /'--nice <n>' argument '50' is invalid.*-20 to 19/ },
    {
      args: ['--fifo', '5', '--rr', '5'],
      names: /'--fifo <priority>' cannot be used with option '--rr/,
    },
    {
      args: ['--rlimit', 'bogus=1'],
      names: /'--rlimit <name=soft\[:hard\]>' argument 'bogus=1'.*"bogus" is not a resource limit/,
    },
    {
      args: ['--timeout', '10parsecs'],
      names: /'--timeout <duration>' argument '10parsecs' is invalid/,
    },
    // Well-formed, but refused by the library before any syscall: still a usage error.
    { args: ['--cpus', '99'], names: /affinity.*99/ },
  ])('bad: run $args is a usage error: exit 2 naming the flag, nothing run', async ({
    args,
    names,
  }, { expect, onTestFinished }) => {
    const t = cli(onTestFinished);
    const marker = path.join(t.dir, 'ran');
    const r = await t.run(['run', ...args, '--', 'touch', marker]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(names);
    expect(r.stdout).toBe('');
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('bad: run without a program is a usage error naming the missing argument', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(['run', '--nice', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument 'program'/);
  });
});
