// `core-process pipeline FILE`: plain progress lines (stderr is not a terminal here), the
// failing spec's output, the summary line, --json, bad files, and Ctrl-C; processes are
// checked in /proc, and specs leave marker files to show whether they ran.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { z } from 'zod';
import { eventually } from '../helpers.js';
import { Cli, compiledCli, dead, groupMembers, type OnFinished } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);

function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** Progress lines about spec `name`: `▶ name started`, `✔ name passed`... */
function linesAbout(stderr: string, name: string): string[] {
  return stderr.split('\n').filter((l) => new RegExp(`^[▶✔✖⤼] ${name} `).test(l));
}

// PipelineResult and SpecResult (lib/runner/spec.ts), written here from their documented fields.
const count = z.int().nonnegative();
const exitStatusSchema = z.strictObject({
  pid: z.int().positive(),
  code: z.int().nullable(),
  signal: z.string().nullable(),
  coreDumped: z.boolean(),
  durationMs: z.number().nonnegative(),
  rusage: z.strictObject({
    userCpuMs: z.number().nonnegative(),
    systemCpuMs: z.number().nonnegative(),
    maxRssKb: count,
    minorFaults: count,
    majorFaults: count,
    voluntaryCtxSwitches: count,
    involuntaryCtxSwitches: count,
  }),
});
const pipelineResultSchema = z.strictObject({
  specs: z.array(
    z.strictObject({
      name: z.string(),
      status: z.enum(['passed', 'failed', 'skipped']),
      exitStatus: exitStatusSchema.nullable(),
      durationMs: z.number().nonnegative(),
      output: z.string(),
      error: z.string().optional(),
    }),
  ),
  passed: count,
  failed: count,
  skipped: count,
  durationMs: z.number().nonnegative(),
  success: z.boolean(),
  cancelled: z.boolean(),
});

const DIAMOND = `specs:
  - { name: root, command: sh, args: [-c, "echo root-out"] }
  - { name: left, command: sh, args: [-c, "echo left-out"], after: [root] }
  - name: right
    command: sh
    args: [-c, "echo right-line-1; echo right-boom >&2; exit 3"]
    after: [root]
  - { name: join, command: touch, args: [join-ran], after: [left, right] }
`;

// A bare list of specs; `here` runs in the file's directory, `inner` in a relative cwd.
const PASSING = `- { name: here, command: pwd }
- { name: inner, command: pwd, cwd: inner, after: [here] }
`;

// Concurrent: the tests mostly wait on processes; the bound allows for a loaded machine.
describe.concurrent('core-process pipeline', { timeout: 60_000 }, () => {
  it('bad: a failing spec in a diamond: exit 1, each spec reported once, its output tail, the counts', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const file = write(t.dir, 'ci.yaml', DIAMOND);
    const r = await t.run(['pipeline', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('\x1b'); // plain lines, no terminal redrawing

    expect(linesAbout(r.stderr, 'root')).toEqual([
      expect.stringMatching(/^▶ root started \(pid \d+\)$/),
      expect.stringMatching(/^✔ root passed \d+\.\ds$/),
    ]);
    expect(linesAbout(r.stderr, 'left')).toEqual([
      expect.stringMatching(/^▶ left started \(pid \d+\)$/),
      expect.stringMatching(/^✔ left passed /),
    ]);
    expect(linesAbout(r.stderr, 'right')).toEqual([
      expect.stringMatching(/^▶ right started \(pid \d+\)$/),
      expect.stringMatching(/^✖ right failed \(exit 3\) /),
    ]);
    expect(linesAbout(r.stderr, 'join')).toEqual(['⤼ join skipped: dependency right failed']);
    expect(fs.existsSync(path.join(t.dir, 'join-ran'))).toBe(false);
    // root finished before either of the specs after it started
    const at = (s: string) => r.stderr.indexOf(s);
    expect(at('✔ root')).toBeLessThan(at('▶ left'));
    expect(at('✔ root')).toBeLessThan(at('▶ right'));

    expect(r.stderr).toContain('── right (last 2 lines) ──\nright-line-1\nright-boom\n');
    expect(r.stderr).not.toMatch(/── (root|left|join)/);
    expect(r.stderr).toMatch(/\n2 passed, 1 failed, 1 skipped in \d+\.\ds\n$/);
  });

  it("good: an all-passing file exits 0; a relative cwd resolves against the file's directory", async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const file = write(t.dir, 'sub/ok.yaml', PASSING);
    fs.mkdirSync(path.join(t.dir, 'sub', 'inner'));
    const [plain, json] = await Promise.all([
      t.run(['pipeline', file]),
      t.run(['pipeline', '--json', file]),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(/^✔ here passed /m);
    expect(plain.stderr).toMatch(/^✔ inner passed /m);
    expect(plain.stderr).toMatch(/\n2 passed, 0 failed, 0 skipped in \d+\.\ds\n$/);

    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const result = pipelineResultSchema.parse(JSON.parse(json.stdout));
    const sub = fs.realpathSync(path.join(t.dir, 'sub'));
    expect(result).toMatchObject({
      passed: 2,
      failed: 0,
      skipped: 0,
      success: true,
      cancelled: false,
    });
    expect(result.specs.map((s) => [s.name, s.status, s.output])).toEqual([
      ['here', 'passed', `${sub}\n`],
      ['inner', 'passed', `${sub}/inner\n`],
    ]);
  });

  it('good: --json prints the PipelineResult of a failing run on stdout and nothing else', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const r = await t.run(['pipeline', '--json', write(t.dir, 'ci.yaml', DIAMOND)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    const result = pipelineResultSchema.parse(JSON.parse(r.stdout));
    expect(result).toMatchObject({
      passed: 2,
      failed: 1,
      skipped: 1,
      success: false,
      cancelled: false,
    });
    const right = result.specs.find((s) => s.name === 'right');
    expect(right?.exitStatus?.code).toBe(3);
    expect(right?.output).toBe('right-line-1\nright-boom\n');
    expect(result.specs.find((s) => s.name === 'join')?.exitStatus).toBeNull();
  });

  it.for([
    {
      what: 'a dependency cycle',
      text: 'specs:\n  - { name: a, command: touch, args: [ran], after: [b] }\n  - { name: b, command: touch, args: [ran], after: [a] }\n',
      names: /bad\.yaml: pipeline: dependency cycle a -> b -> a/,
    },
    {
      what: 'an unknown dependency',
      text: 'specs:\n  - { name: a, command: touch, args: [ran], after: [zz] }\n',
      names: /bad\.yaml: pipeline: spec "a" depends on unknown spec "zz"/,
    },
    {
      what: 'an unknown key in a spec',
      text: 'specs:\n  - { name: a, command: touch, args: [ran], timout: 5 }\n',
      names: /bad\.yaml: specs\.0\.timout: unknown key/,
    },
    {
      what: 'an unknown top-level key',
      text: 'concurency: 2\nspecs:\n  - { name: a, command: touch, args: [ran] }\n',
      names: /bad\.yaml: concurency: unknown key/,
    },
    {
      what: 'a value of the wrong type',
      text: '- { name: a, command: touch, args: [ran], timeout: soon }\n',
      names: /bad\.yaml: 0\.timeout: .*number/,
    },
  ])('bad: a file with $what exits 2 naming it, and runs nothing', async ({ text, names }, {
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const r = await t.run(['pipeline', write(t.dir, 'bad.yaml', text)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(names);
    expect(r.stderr).not.toMatch(/started/);
    expect(fs.existsSync(path.join(t.dir, 'ran'))).toBe(false);
  });

  it('bad: a file that does not exist exits 2 naming it', async ({ expect, onTestFinished }) => {
    const t = cli(onTestFinished);
    const r = await t.run(['pipeline', path.join(t.dir, 'missing.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot read .*missing\.yaml/);
  });

  it("ugly: SIGINT while a long spec runs cancels: exit 1, the spec's group is gone, the rest skipped", async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const file = write(
      t.dir,
      'long.yaml',
      `specs:
  - name: long
    command: sh
    args: [-c, "sleep 30 & echo $! > grand.pid; wait"]
  - { name: later, command: touch, args: [later-ran], after: [long] }
`,
    );
    const p = t.start(['pipeline', file]);
    const leader = Number((await p.waitFor('stderr', /▶ long started \(pid (\d+)\)/))[1]);
    t.reap(leader);
    const grandPid = path.join(t.dir, 'grand.pid');
    expect(
      await eventually(
        () => fs.existsSync(grandPid) && fs.readFileSync(grandPid, 'utf8').endsWith('\n'),
      ),
    ).toBe(true);
    const grandchild = Number(fs.readFileSync(grandPid, 'utf8'));
    expect(groupMembers(leader).sort((a, b) => a - b)).toEqual(
      [leader, grandchild].sort((a, b) => a - b),
    );

    p.child.kill('SIGINT');
    const r = await p.done;
    expect(r.code).toBe(1);
    expect(dead(leader)).toBe(true);
    expect(dead(grandchild)).toBe(true);
    expect(groupMembers(leader)).toEqual([]);
    expect(linesAbout(r.stderr, 'long')).toEqual([
      expect.stringMatching(/^▶ long started/),
      expect.stringMatching(/^✖ long failed \(cancelled/),
    ]);
    expect(linesAbout(r.stderr, 'later')).toEqual(['⤼ later skipped: cancelled']);
    expect(fs.existsSync(path.join(t.dir, 'later-ran'))).toBe(false);
    expect(r.stderr).toMatch(/\n0 passed, 1 failed, 1 skipped in \d+\.\ds \(cancelled\)\n$/);
  });
});
