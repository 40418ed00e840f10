// The sandbox, proven by escape attempts: a probe compiled from test/fixtures/sandbox-probe.c
// tries each forbidden thing inside the sandboxed child and prints what the kernel answered;
// /proc/<pid>/status, a real TCP listener of ours and real files are read from outside.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessError, type RunOptions, run, spawn } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import { DEFAULT_SYSCALL_DENY } from '../../lib/process/sandbox.js';
import { fdsOf, procStatusField, scaled, tempDir, thrown } from '../helpers.js';
import { asRoot, needsTool } from '../optional.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib, runNode } from '../subprocess.js';

const suite = needsTool('gcc', existsSync('/usr/bin/gcc'), 'apt-get install gcc');
const { describeRoot, itRoot } = asRoot('a setuid-root probe and running it as uid 65534');

let dir: string;
let probe: string;
let server: Server;
let hostPort: number;

beforeAll(async () => {
  dir = tempDir('core-process-sandbox-');
  chmodSync(dir, 0o755); // uid 65534 runs the probe from here too
  probe = path.join(dir, 'probe');
  execFileSync('gcc', ['-O1', '-o', probe, path.join(FIXTURES, 'sandbox-probe.c')]);
  server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hostPort = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the probe with these attempts; returns attempt -> result ('0' or an errno name). */
async function attempts(
  list: string[],
  options: RunOptions,
): Promise<{ out: Record<string, string>; signal: string | null; code: number | null }> {
  const r = await run(probe, list, { ...options, reject: false, timeout: scaled(20_000) });
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return { out, signal: r.status.signal, code: r.status.code };
}

suite('sandbox.syscalls and noNewPrivileges', () => {
  it("'default' shows NoNewPrivs 1 and Seccomp 2 in /proc/<pid>/status; plain spawn shows 0 and 0", async () => {
    const boxed = spawn({ program: 'sleep', args: ['5'], sandbox: { syscalls: 'default' } });
    const plain = spawn({ program: 'sleep', args: ['5'] });
    try {
      expect(procStatusField(boxed.pid, 'NoNewPrivs')).toBe('1');
      expect(procStatusField(boxed.pid, 'Seccomp')).toBe('2');
      expect(procStatusField(plain.pid, 'NoNewPrivs')).toBe('0');
      expect(procStatusField(plain.pid, 'Seccomp')).toBe('0');
    } finally {
      boxed.kill('SIGKILL');
      plain.kill('SIGKILL');
      await Promise.all([boxed.exited, plain.exited]);
    }
  });

  it('noNewPrivileges alone sets NoNewPrivs without a filter, and a session of its own', async () => {
    const c = spawn({ program: 'sleep', args: ['5'], sandbox: { noNewPrivileges: true } });
    try {
      expect(procStatusField(c.pid, 'NoNewPrivs')).toBe('1');
      expect(procStatusField(c.pid, 'Seccomp')).toBe('0');
      const stat = readFileSync(`/proc/${c.pid}/stat`, 'utf8');
      const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      expect(sid).toBe(c.pid);
    } finally {
      c.kill('SIGKILL');
      await c.exited;
    }
  });

  it("each listed call returns EPERM under 'default' (ptrace, unshare, io_uring_setup, clone(CLONE_NEWUSER), TIOCSTI with and without the high bits, TIOCLINUX), while plain spawn is not filtered", async () => {
    const calls = [
      'unshare',
      'io_uring_setup',
      'clone-newuser',
      'tiocsti',
      'tiocsti-high',
      'tioclinux',
      'getpid',
      'ptrace', // last: a traced probe stops at the next signal
    ];
    const boxed = await attempts(calls, { sandbox: { syscalls: 'default' } });
    expect(boxed.code).toBe(0);
    expect(boxed.out).toEqual({
      unshare: 'EPERM',
      io_uring_setup: 'EPERM',
      'clone-newuser': 'EPERM',
      tiocsti: 'EPERM',
      'tiocsti-high': 'EPERM',
      tioclinux: 'EPERM',
      getpid: '0',
      ptrace: 'EPERM',
    });
    // The same probe unfiltered: the ioctls reach the tty layer (stdin is /dev/null: ENOTTY)
    // and io_uring_setup gets past the filter (EFAULT-free params: 0, or a kernel refusal
    // other than EPERM).
    const plain = await attempts(['tiocsti', 'tiocsti-high', 'io_uring_setup'], {});
    expect(plain.out.tiocsti).toBe('ENOTTY');
    expect(plain.out['tiocsti-high']).toBe('ENOTTY');
    expect(plain.out.io_uring_setup).not.toBe('EPERM');
  });

  it('an x32 system call is killed with SIGSYS (the filter checks the ABI)', async () => {
    if (process.arch !== 'x64') return; // x32 exists only on x86_64
    const boxed = await attempts(['getpid', 'x32'], { sandbox: { syscalls: 'default' } });
    expect(boxed.out.getpid).toBe('0');
    expect(boxed.signal).toBe('SIGSYS');
    expect(boxed.out.x32).toBeUndefined();
    const plain = await attempts(['x32'], {});
    expect(plain.signal).toBeNull();
  });

  it('the child cannot lift its restrictions: no_new_privs stays, another allow-all filter or Landlock layer changes nothing', async () => {
    const boxed = await attempts(['nnp-off', 'seccomp-allow', 'landlock-off', 'nnp', 'unshare'], {
      sandbox: { syscalls: 'default' },
    });
    expect(boxed.out['nnp-off']).toBe('EINVAL');
    expect(boxed.out.nnp).toBe('0'); // still set
    expect(boxed.out.unshare).toBe('EPERM'); // still filtered after adding an allow-all filter
  });

  it('a custom deny list is resolved for this architecture: getpid denied, unshare allowed', async () => {
    const boxed = await attempts(['getpid', 'tiocsti'], {
      sandbox: { syscalls: { deny: ['getpid'] } },
    });
    expect(boxed.out.getpid).toBe('EPERM');
    expect(boxed.out.tiocsti).toBe('ENOTTY'); // not in a custom list
  });

  it('an unknown syscall name is InvalidCommand naming it, and nothing is started or left open', () => {
    const fds = fdsOf('self').length;
    const e = thrown(ProcessError, () =>
      spawn({ program: probe, sandbox: { syscalls: { deny: ['getpid', 'no_such_call'] } } }),
    );
    expect(e.kind).toBe('InvalidCommand');
    expect(e.field).toBe('sandbox.syscalls.deny[1]');
    expect(e.message).toMatch(/"no_such_call" is not a system call on (x86_64|aarch64)/);
    expect(fdsOf('self').length).toBe(fds);
  });

  it('the default list is versioned and every name resolves here', () => {
    expect(DEFAULT_SYSCALL_DENY.version).toBe(1);
    for (const name of DEFAULT_SYSCALL_DENY.syscalls) {
      expect([name, native.syscallNumber(name) >= 0]).toEqual([name, true]);
    }
  });
});

suite('sandbox.filesystem (Landlock)', () => {
  it('writes only under the write roots; rename and link out of them fail; reads work', async () => {
    const inside = tempDir('core-process-lw-');
    const outside = tempDir('core-process-lo-');
    try {
      writeFileSync(path.join(inside, 'a'), 'a');
      writeFileSync(path.join(outside, 'victim'), 'keep');
      const r = await attempts(
        [
          `write:${path.join(inside, 'new')}`,
          `write:${path.join(outside, 'new')}`,
          `truncate:${path.join(outside, 'victim')}`,
          `rename:${path.join(inside, 'a')}:${path.join(outside, 'moved')}`,
          `link:${path.join(inside, 'a')}:${path.join(outside, 'linked')}`,
          `read:${path.join(outside, 'victim')}`,
          'read:/etc/hostname',
        ],
        { sandbox: { filesystem: { write: [inside] } } },
      );
      // Below ABI 3 the read-only mounts answer first (sandbox-fs.test.ts covers that path).
      const ro = native.sandboxInfo().landlockAbi < 3;
      expect(r.out).toEqual({
        [`write:${path.join(inside, 'new')}`]: '0',
        [`write:${path.join(outside, 'new')}`]: ro ? 'EROFS' : 'EACCES',
        [`truncate:${path.join(outside, 'victim')}`]: ro ? 'EROFS' : 'EACCES',
        [`rename:${path.join(inside, 'a')}:${path.join(outside, 'moved')}`]: ro
          ? 'EXDEV'
          : 'EACCES',
        [`link:${path.join(inside, 'a')}:${path.join(outside, 'linked')}`]: ro ? 'EROFS' : 'EACCES',
        [`read:${path.join(outside, 'victim')}`]: '0',
        'read:/etc/hostname': '0',
      });
      // From outside: nothing was created, moved or truncated there.
      expect(readdirSync(outside)).toEqual(['victim']);
      expect(readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('keep');
      expect(existsSync(path.join(inside, 'a'))).toBe(true);
    } finally {
      rmSync(inside, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('child.sandbox names what enforced each part: Landlock alone at ABI >= 3, seccomp, the namespaces', async () => {
    const abi = native.sandboxInfo().landlockAbi;
    const c = spawn({
      program: 'true',
      sandbox: { filesystem: { write: [dir] }, syscalls: 'default', network: 'none' },
    });
    await c.exited;
    expect(c.sandbox).toEqual({
      noNewPrivileges: true,
      newSession: true,
      filesystem: abi >= 3 ? [`landlock-abi${abi}`] : [`landlock-abi${abi}`, 'mount-readonly'],
      syscalls: 'seccomp',
      network: 'network-namespace',
      privateTmp: null,
      userNamespace: process.geteuid?.() !== 0,
    });
  });

  it('read roots narrow reading: a file outside them is EACCES', async () => {
    const r = await attempts(['read:/etc/hostname', `read:${probe}`], {
      sandbox: { filesystem: { write: [], read: [dir, '/lib', '/lib64', '/usr'] } },
    });
    expect(r.out['read:/etc/hostname']).toBe('EACCES');
    expect(r.out[`read:${probe}`]).toBe('0');
  });

  it('a child-side failure after the ruleset, filter and namespace were built (a bad cwd) leaves no descriptor open', () => {
    const fds = fdsOf('self').length;
    const e = thrown(ProcessError, () =>
      spawn({
        program: probe,
        cwd: '/no/such/cwd',
        sandbox: { filesystem: { write: [dir] }, syscalls: 'default', network: 'none' },
      }),
    );
    expect(e.stage).toBe('chdir');
    expect(fdsOf('self').length).toBe(fds);
  });

  it('a missing write root is NotFound naming the path, with no descriptor left open', () => {
    const fds = fdsOf('self').length;
    const e = thrown(ProcessError, () =>
      spawn({ program: probe, sandbox: { filesystem: { write: ['/no/such/dir'] } } }),
    );
    expect(e.kind).toBe('NotFound');
    expect(e.stage).toBe('landlock');
    expect(e.message).toContain('/no/such/dir');
    expect(fdsOf('self').length).toBe(fds);
  });
});

suite('sandbox.network', () => {
  it("'none': the host's loopback listener is unreachable (ENETUNREACH); plain spawn reaches it", async () => {
    const boxed = await attempts([`connect:${hostPort}`, 'self-loopback'], {
      sandbox: { network: 'none' },
    });
    expect(boxed.out[`connect:${hostPort}`]).toBe('ENETUNREACH');
    expect(boxed.out['self-loopback']).toBe('ENETUNREACH');
    const plain = await attempts([`connect:${hostPort}`], {});
    expect(plain.out[`connect:${hostPort}`]).toBe('0');
  });

  it("'loopback': the child's own loopback server works, the host's listener is not there", async () => {
    const boxed = await attempts([`connect:${hostPort}`, 'self-loopback'], {
      sandbox: { network: 'loopback' },
    });
    expect(boxed.out['self-loopback']).toBe('0');
    expect(boxed.out[`connect:${hostPort}`]).toBe('ECONNREFUSED');
  });

  it('the child is in a network namespace other than ours', async () => {
    const c = spawn({ program: 'sleep', args: ['5'], sandbox: { network: 'none' } });
    try {
      const ours = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' });
      expect(execFileSync('readlink', [`/proc/${c.pid}/ns/net`], { encoding: 'utf8' })).not.toBe(
        ours,
      );
    } finally {
      c.kill('SIGKILL');
      await c.exited;
    }
  });
});

describe('sandbox.privateTmp', () => {
  function tmpMounts(pid: number | 'self'): string[] {
    return readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[4] === '/tmp');
  }

  it('the child gets an empty tmpfs on /tmp of its own: its writes stay there, ours are not seen, and our mount table is unchanged', async () => {
    const ours = tempDir('core-process-visible-');
    const before = tmpMounts('self');
    const name = `core-process-private-${process.pid}-${Date.now()}`;
    const r = await run(
      'sh',
      [
        '-c',
        `ls -A /tmp; echo x > /tmp/${name} && cat /tmp/${name}; test -e ${ours} || echo hidden`,
      ],
      { sandbox: { privateTmp: true }, reject: false },
    );
    expect(r.stdout).toBe('x\nhidden\n');
    expect(r.status.code).toBe(0);
    expect(existsSync(path.join('/tmp', name))).toBe(false);
    expect(tmpMounts('self')).toEqual(before);
    rmSync(ours, { recursive: true, force: true });
  });

  it('its mountinfo shows a tmpfs on /tmp while it runs', async () => {
    const c = spawn({ program: 'sleep', args: ['5'], sandbox: { privateTmp: true } });
    try {
      const mine = tmpMounts(c.pid);
      expect(mine.some((l) => / - tmpfs tmpfs /.test(l))).toBe(true);
    } finally {
      c.kill('SIGKILL');
      await c.exited;
    }
  });

  itRoot(
    'a root caller dropping to uid 65534 still gets its private /tmp (mounted before the uid switch)',
    async () => {
      const r = await run('sh', ['-c', 'id -u; echo x > /tmp/f && cat /tmp/f'], {
        uid: 65534,
        gid: 65534,
        sandbox: { privateTmp: true },
        reject: false,
      });
      expect({ stdout: r.stdout, code: r.status.code }).toEqual({ stdout: '65534\nx\n', code: 0 });
    },
  );

  it('with Landlock write roots, the private /tmp stays writable and everything else outside them does not', async () => {
    const r = await run(
      'sh',
      [
        '-c',
        'echo a > /tmp/a && echo tmp-ok; echo b > /var/tmp/core-process-never 2>/dev/null || echo var-denied',
      ],
      {
        sandbox: { privateTmp: true, filesystem: { write: [] }, syscalls: 'default' },
        reject: false,
      },
    );
    expect(r.stdout).toBe('tmp-ok\nvar-denied\n');
    expect(existsSync('/var/tmp/core-process-never')).toBe(false);
  });
});

suite('sandbox refusals', () => {
  it('a pidNamespace that is not a boolean is InvalidCommand naming sandbox.pidNamespace', () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: probe, sandbox: { pidNamespace: 'yes' as unknown as boolean } }),
    );
    expect(e.kind).toBe('InvalidCommand');
    expect(e.field).toBe('sandbox.pidNamespace');
  });

  it('a typo inside sandbox is InvalidCommand naming sandbox.<key> and the nearest key', () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: probe, sandbox: { netwrk: 'none' } as unknown as { network: 'none' } }),
    );
    expect(e.field).toBe('sandbox.netwrk');
    expect(e.message).toContain("did you mean 'sandbox.network'?");
  });

  it('noNewPrivileges: false and newSession: false are refused (they are implied)', () => {
    expect(
      thrown(ProcessError, () => spawn({ program: probe, sandbox: { noNewPrivileges: false } }))
        .field,
    ).toBe('sandbox.noNewPrivileges');
    expect(
      thrown(ProcessError, () => spawn({ program: probe, sandbox: { newSession: false } })).field,
    ).toBe('sandbox.newSession');
  });

  it('a bad network value is InvalidCommand listing the three', () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: probe, sandbox: { network: 'off' as unknown as 'none' } }),
    );
    expect(e.message).toMatch(/must be 'none', 'loopback' or 'host'/);
  });
});

describeRoot('sandbox as an unprivileged user (uid 65534)', () => {
  let lib: string;
  let report: Record<string, Record<string, string> | string>;
  beforeAll(async () => {
    lib = await compiledLib();
    // A setuid-root copy of the probe: exec must not grant root under no_new_privs.
    const suid = path.join(dir, 'suid-probe');
    copyFileSync(probe, suid);
    chownSync(suid, 0, 0);
    chmodSync(suid, 0o4755);
    const r = await runNode(
      'sandbox-unprivileged.mjs',
      [lib, probe, suid, String(hostPort)],
      childEnv(),
      // --no-warnings: containment falls back to 'group' for this user, with a warning.
      { asUser: 65534, timeoutMs: 60_000, nodeFlags: ['--no-warnings'] },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    report = JSON.parse(r.stdout);
    // Node's start-up as another user plus a dozen sandboxed children: the default 30 s hook
    // bound was hit once on a loaded machine (Node 24 lane beside a VM lane).
  }, scaled(120_000));
  afterAll(() => removeCompiledLib());

  it('a setuid-root binary runs as root without the sandbox and stays uid 65534 under noNewPrivileges', () => {
    expect(report.suidPlain).toMatchObject({ euid: '0' });
    expect(report.suidBoxed).toMatchObject({ euid: '65534' });
  });

  it('seccomp and Landlock work without privileges', () => {
    expect(report.seccomp).toMatchObject({ unshare: 'EPERM', 'clone-newuser': 'EPERM' });
    expect(report.landlock).toMatchObject({
      'write:/tmp/core-process-nobody-denied':
        native.sandboxInfo().landlockAbi < 3 ? 'EROFS' : 'EACCES',
    });
  });

  it('limits without a writable cgroup are PermissionDenied naming the controller, nothing started', () => {
    // A hybrid host offers the v1 pids hierarchy, which uid 65534 cannot write: PermissionDenied
    // naming it. A pure v2 host whose cgroup this uid cannot create children in has no
    // hierarchy to offer it at all: Unsupported, naming the controller. Either way nothing ran.
    const v1 = /^\S+ \S+ cgroup \S*\bpids\b/m.test(readFileSync('/proc/self/mounts', 'utf8'));
    expect(report.limits).toMatchObject({
      ok: false,
      kind: v1 ? 'PermissionDenied' : expect.stringMatching(/^(PermissionDenied|Unsupported)$/),
      field: v1 ? 'limits' : expect.stringMatching(/^limits(\.pids)?$/),
    });
    expect((report.limits as Record<string, string>).message).toMatch(
      v1 ? /pids controller, v1\): not writable by uid 65534/ : /pids controller/,
    );
  });

  it('privateTmp works without root, through the same user namespace', () => {
    expect(report.privateTmp).toEqual({ stdout: 'hidden\nx\n', code: '0', stderr: '' });
  });

  it('pidNamespace works without root: the program is PID 2 under our init, still uid 65534, and sees only its tree', () => {
    const p = report.pidns as Record<string, string>;
    const [self, count] = (p.seen ?? '').trim().split('\n');
    expect(self).toBe('2 65534');
    // init, sh, ls and grep at most: none of the host's processes.
    expect(Number(count)).toBeGreaterThanOrEqual(2);
    expect(Number(count)).toBeLessThanOrEqual(4);
    expect(p.initUidMap).toBe('65534 65534 1');
    expect(p.initNSpid).toBe(`${p.initPid} 1`);
    expect(p.code).toBe('0');
  });

  it("network 'loopback' goes through a user namespace mapping only uid 65534 (never 0)", () => {
    expect(report.loopback).toMatchObject({
      'self-loopback': '0',
      [`connect:${hostPort}`]: 'ECONNREFUSED',
    });
    expect(report.uidMap).toMatch(/^\s*65534\s+65534\s+1\s*$/);
  });
});
