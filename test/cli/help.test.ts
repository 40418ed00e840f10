// `--help` of the command and of each subcommand, and `--version`: what a user reads first.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, it } from 'vitest';
import { ROOT } from '../subprocess.js';
import { Cli, compiledCli, type OnFinished } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);

// Concurrent: the tests mostly wait on processes; the bound allows for a loaded machine.
describe.concurrent('core-process --help', { timeout: 60_000 }, () => {
  it.for(
    [[], ['run'], ['supervise'], ['daemons'], ['pipeline']].map((command) => ({
      command,
      usage: ['core-process', ...command].join(' '),
    })),
  )('good: $usage --help exits 0 with usage and an Examples: section', async ({ command, usage }, {
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run([...command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.startsWith(`Usage: ${usage} `)).toBe(true);
    expect(r.stdout).toMatch(/^Examples:\n {2}core-process /m);
  });

  it('good: --version prints the version in package.json', async ({ expect, onTestFinished }) => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const r = await cli(onTestFinished).run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  it('bad: an unknown subcommand exits 2 naming it', async ({ expect, onTestFinished }) => {
    const r = await cli(onTestFinished).run(['runn', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'runn'/);
  });
});
