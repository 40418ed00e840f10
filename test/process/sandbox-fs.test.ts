// sandbox.filesystem below Landlock ABI 3 (kernels 5.13-6.1): Landlock plus a mount namespace
// where everything but the write roots is read-only. On a kernel with ABI >= 3 the path is
// forced through CORE_PROCESS_LANDLOCK_ABI=2 (its test override), so it runs here too; on a
// 6.1 kernel it is the path the library takes by itself. Proven by escape attempts from a
// probe inside, real files and /proc/<pid>/mountinfo read from outside.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ProcessError, run, spawn } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { LANDLOCK_ABI_ENV } from '../../lib/process/sandbox.js';
import { tempDir, thrown } from '../helpers.js';
import { asRoot, needsTool } from '../optional.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib, runNode } from '../subprocess.js';

const kernelAbi = native.sandboxInfo().landlockAbi;
// Set before the first sandboxed spawn of this file (the library reads it once).
if (kernelAbi >= 3) process.env[LANDLOCK_ABI_ENV] = '2';
const abi = Math.min(kernelAbi, 2);
// Under TCG (scripts/vm) every Node start is many times slower; the harness says how much.
const SCALE = Math.max(1, Number(process.env.CORE_PROCESS_TEST_TIME_SCALE) || 1);
const suite = needsTool('gcc', existsSync('/usr/bin/gcc'), 'apt-get install gcc');
const landlock = kernelAbi >= 1 ? suite : suite.skip;
if (kernelAbi < 1) {
  process.stderr.write(`skipped: sandbox ABI 1-2 tests need Landlock (landlockAbi ${kernelAbi})\n`);
}

const { describeRoot } = asRoot('running the sandbox as uid 65534');

let dir: string;
let probe: string;
beforeAll(() => {
  dir = tempDir('core-process-sandbox-fs-');
  chmodSync(dir, 0o755); // uid 65534 runs the probe from here too
  probe = path.join(dir, 'probe');
  execFileSync('gcc', ['-O1', '-o', probe, path.join(FIXTURES, 'sandbox-probe.c')]);
}, 30_000 * SCALE);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** attempt -> '0' or the errno name the probe saw. */
async function attempts(list: string[], write: string[]): Promise<Record<string, string>> {
  const r = await run(probe, list, {
    sandbox: { filesystem: { write } },
    reject: false,
    timeout: 20_000,
  });
  expect(r.status.code).toBe(0);
  return Object.fromEntries(
    r.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function mountsOf(pid: number | 'self'): { point: string; opts: string }[] {
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      return { point: f[4] as string, opts: f[5] as string };
    });
}

landlock(`sandbox.filesystem on Landlock ABI ${abi} (with read-only mounts)`, () => {
  it(`child.sandbox reports landlock-abi${abi} and mount-readonly, never less than was enforced`, async () => {
    const c = spawn({ program: 'true', sandbox: { filesystem: { write: [dir] } } });
    await c.exited;
    expect(c.sandbox).toEqual({
      noNewPrivileges: true,
      newSession: true,
      filesystem: [`landlock-abi${abi}`, 'mount-readonly'],
      syscalls: null,
      network: null,
      privateTmp: null,
      userNamespace: process.geteuid?.() !== 0,
    });
    const plain = spawn({ program: 'true' });
    await plain.exited;
    expect(plain.sandbox).toBeNull();
  });

  it('writes, creates and reads inside; write, unlink, mkdir, rename, link and truncate outside fail and change nothing', async () => {
    const inside = tempDir('core-process-fs2-in-');
    const outside = tempDir('core-process-fs2-out-');
    try {
      writeFileSync(path.join(inside, 'a'), 'a');
      writeFileSync(path.join(inside, 'cut'), 'long content');
      writeFileSync(path.join(outside, 'victim'), 'keep');
      const o = (n: string) => path.join(outside, n);
      const i = (n: string) => path.join(inside, n);
      const r = await attempts(
        [
          `write:${i('new')}`,
          `mkdir:${i('sub')}`,
          `truncate:${i('cut')}`,
          `rename:${i('new')}:${i('renamed')}`,
          `unlink:${i('a')}`,
          `read:${o('victim')}`,
          `write:${o('new')}`,
          `write:${o('victim')}`,
          `truncate:${o('victim')}`,
          `unlink:${o('victim')}`,
          `mkdir:${o('sub')}`,
          `rename:${o('victim')}:${o('moved')}`,
          `rename:${i('renamed')}:${o('moved')}`,
          `link:${i('renamed')}:${o('linked')}`,
          'write:/dev/full',
        ],
        [inside],
      );
      expect(r).toEqual({
        [`write:${i('new')}`]: '0',
        [`mkdir:${i('sub')}`]: '0',
        [`truncate:${i('cut')}`]: '0',
        [`rename:${i('new')}:${i('renamed')}`]: '0',
        [`unlink:${i('a')}`]: '0',
        [`read:${o('victim')}`]: '0',
        // The read-only mount answers first (the VFS asks for write access to the mount
        // before any LSM hook); moving out of the write root's own mount is EXDEV.
        [`write:${o('new')}`]: 'EROFS',
        [`write:${o('victim')}`]: 'EROFS',
        [`truncate:${o('victim')}`]: 'EROFS',
        [`unlink:${o('victim')}`]: 'EROFS',
        [`mkdir:${o('sub')}`]: 'EROFS',
        [`rename:${o('victim')}:${o('moved')}`]: 'EROFS',
        [`rename:${i('renamed')}:${o('moved')}`]: 'EXDEV',
        [`link:${i('renamed')}:${o('linked')}`]: 'EROFS',
        // A device node is writable on a read-only mount: Landlock is what denies it.
        'write:/dev/full': 'EACCES',
      });
      // From outside: nothing there was created, moved, removed or shortened.
      expect(readdirSync(outside)).toEqual(['victim']);
      expect(readFileSync(o('victim'), 'utf8')).toBe('keep');
      // ...and what was done inside is really there.
      expect(readdirSync(inside).sort()).toEqual(['cut', 'renamed', 'sub']);
      expect(statSync(i('cut')).size).toBe(0);
    } finally {
      rmSync(inside, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("the child's mountinfo shows / read-only and the write root read-write; ours is unchanged", async () => {
    const before = mountsOf('self');
    const root = path.join(dir, 'root');
    mkdirSync(root, { recursive: true });
    const c = spawn({ program: 'sleep', args: ['5'], sandbox: { filesystem: { write: [root] } } });
    try {
      const theirs = mountsOf(c.pid);
      expect(theirs.find((m) => m.point === '/')?.opts).toMatch(/^ro\b/);
      expect(theirs.filter((m) => m.point === root).at(-1)?.opts).toMatch(/^rw\b/);
      expect(theirs.filter((m) => m.point !== root).every((m) => /^ro\b/.test(m.opts))).toBe(true);
    } finally {
      c.kill('SIGKILL');
      await c.exited;
    }
    expect(mountsOf('self')).toEqual(before);
  });

  it('privateTmp stays writable beside the read-only mounts', async () => {
    const r = await run(
      'sh',
      [
        '-c',
        'echo a > /tmp/a && echo tmp-ok; echo b > /var/tmp/core-process-fs2-never 2>/dev/null || echo var-denied',
      ],
      { sandbox: { privateTmp: true, filesystem: { write: [] } }, reject: false },
    );
    expect(r.stdout).toBe('tmp-ok\nvar-denied\n');
    expect(existsSync('/var/tmp/core-process-fs2-never')).toBe(false);
  });

  it('a missing write root is NotFound naming it, before anything starts', () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: probe, sandbox: { filesystem: { write: ['/no/such/root'] } } }),
    );
    expect(e.kind).toBe('NotFound');
    expect(e.message).toContain('/no/such/root');
  });
});

(kernelAbi >= 1 ? describeRoot : describeRoot.skip)(
  'sandbox.filesystem below ABI 3 as an unprivileged user (uid 65534)',
  () => {
    afterAll(() => removeCompiledLib());

    it(
      'the read-only mounts come through a user namespace mapping only 65534, and truncate outside is EROFS',
      async () => {
        const lib = await compiledLib();
        const inside = tempDir('core-process-fs2-nobody-in-');
        const outside = tempDir('core-process-fs2-nobody-out-');
        try {
          chmodSync(inside, 0o777);
          chmodSync(outside, 0o777);
          writeFileSync(path.join(outside, 'victim'), 'keep');
          chmodSync(path.join(outside, 'victim'), 0o666);
          const r = await runNode(
            'sandbox-fs-unprivileged.mjs',
            [lib, probe, inside, outside],
            childEnv(kernelAbi >= 3 ? { [LANDLOCK_ABI_ENV]: '2' } : {}),
            { asUser: 65534, timeoutMs: 30_000 * SCALE, nodeFlags: ['--no-warnings'] },
          );
          expect(r.stderr).toBe('');
          const report = JSON.parse(r.stdout);
          expect(report).toMatchObject({
            code: 0,
            answers: {
              [`write:${inside}/new`]: '0',
              [`write:${outside}/new`]: 'EROFS',
              [`truncate:${outside}/victim`]: 'EROFS',
              [`unlink:${outside}/victim`]: 'EROFS',
            },
            sandbox: { filesystem: [`landlock-abi${abi}`, 'mount-readonly'], userNamespace: true },
          });
          expect(report.uidMap).toMatch(/^\s*65534\s+65534\s+1\s*$/);
          expect(report.rootMount).toMatch(/^ro\b/);
          expect(readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('keep');
          expect(readdirSync(outside)).toEqual(['victim']);
        } finally {
          rmSync(inside, { recursive: true, force: true });
          rmSync(outside, { recursive: true, force: true });
        }
      },
      60_000 * SCALE,
    );
  },
);
