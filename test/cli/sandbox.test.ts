// `core-process run` with the sandbox and limit flags: the probe (test/fixtures/sandbox-probe.c)
// reports what the kernel answered inside, the --json summary reports the cgroup counters.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scaled, tempDir } from '../helpers.js';
import { asRoot, needsTool } from '../optional.js';
import { FIXTURES } from '../subprocess.js';
import { Cli, compiledCli, type OnFinished } from './cli.js';

const suite = needsTool('gcc', fs.existsSync('/usr/bin/gcc'), 'apt-get install gcc');
const { itRoot } = asRoot('--pids/--memory/--cpu create cgroups');

let bin: string;
let dir: string;
let probe: string;
let server: Server;
let port: number;
beforeAll(async () => {
  bin = await compiledCli();
  dir = tempDir('core-process-cli-sandbox-');
  probe = path.join(dir, 'probe');
  execFileSync('gcc', ['-O1', '-o', probe, path.join(FIXTURES, 'sandbox-probe.c')]);
  server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
}, scaled(120_000));
afterAll(async () => {
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);

suite('core-process run --sandbox-*', () => {
  it('--sandbox-net none --sandbox-write DIR --seccomp default confine the child', async ({
    onTestFinished,
  }) => {
    const out = path.join(dir, 'out');
    fs.mkdirSync(out, { recursive: true });
    const r = await cli(onTestFinished).run([
      'run',
      '--quiet',
      '--sandbox-net',
      'none',
      '--sandbox-write',
      out,
      '--seccomp',
      'default',
      '--',
      probe,
      `connect:${port}`,
      `write:${path.join(out, 'f')}`,
      `write:${path.join(dir, 'g')}`,
      'unshare',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `connect:${port}=ENETUNREACH`,
      `write:${path.join(out, 'f')}=0`,
      // Below Landlock ABI 3 the read-only mount namespace refuses first: EROFS.
      expect.stringMatching(new RegExp(`^write:${path.join(dir, 'g')}=(EACCES|EROFS)$`)),
      'unshare=EPERM',
    ]);
    expect(fs.existsSync(path.join(dir, 'g'))).toBe(false);
  });

  it('--private-tmp gives the child an empty /tmp of its own', async ({ onTestFinished }) => {
    const r = await cli(onTestFinished).run([
      'run',
      '--quiet',
      '--private-tmp',
      '--',
      'sh',
      '-c',
      'ls -A /tmp | wc -l',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('0');
    expect(fs.readdirSync('/tmp').length).toBeGreaterThan(0); // ours is not empty: the probe's dir
  });

  it('--seccomp with an unknown name fails before starting, naming it', async ({
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run([
      'run',
      '--seccomp',
      'getpid,nosuchcall',
      '--',
      probe,
      'getpid',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('"nosuchcall" is not a system call');
  });

  itRoot(
    '--pids 8 --memory 256M --cpu 50% report limitsHit in the --json summary',
    async ({ onTestFinished }) => {
      const r = await cli(onTestFinished).run([
        'run',
        '--json',
        '--pids',
        '8',
        '--memory',
        '256M',
        '--cpu',
        '50%',
        '--',
        'sh',
        '-c',
        'i=0; while [ $i -lt 32 ]; do sleep 1 & i=$((i+1)); done 2>/dev/null; wait',
      ]);
      const summary = JSON.parse(r.stderr.trim().split('\n').pop() as string);
      expect(summary.limitsHit.pids).toBeGreaterThan(0);
      expect(summary.oomKilled).toBe(false);
    },
  );
});
