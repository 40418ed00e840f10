// PID namespaces under our own init (issue 29): sandbox.pidNamespace and containment 'pidns'.
// Facts from outside: /proc/<pid>/ns/pid and NSpid, the child's own listing of /proc, real
// exit codes and signals, and /proc scans for every process carrying a unique token.
import cp from 'node:child_process';
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pidNamespaceUnavailable } from '../../lib/process/pidns.js';
import type { ChildOutput } from '../../lib/process/pipe-reader.js';
import { spawn } from '../../lib/process/spawn.js';
import { eventually, procState, procStatusField, scaled } from '../helpers.js';
import { asRoot } from '../optional.js';
import { ADDON, childEnv, compiledLib, FIXTURES } from '../subprocess.js';

const why = pidNamespaceUnavailable();
if (why !== null) {
  process.stderr.write(`\nSKIPPED: PID namespace tests: ${why}\n`);
}
const suite = why === null ? describe : describe.skip;
const { itRoot } = asRoot('a PID namespace with limits (a writable cgroup)');

const token = () => `${randomInt(100_000, 900_000)}.5`;

/** Live (not zombie) processes whose command line holds `token`, node itself excluded. */
function liveWith(token: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (args[0] === process.execPath || !args.some((a) => a.includes(token))) continue;
      if (procState(Number(e)) !== 'Z') out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Children of `pid` (its main thread's), as the kernel lists them. */
function childrenOf(pid: number): number[] {
  const text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return text === '' ? [] : text.split(' ').map(Number);
}

/** Everything the child wrote to stdout, once it has exited and the pipe has ended. */
async function output(child: ReturnType<typeof spawn>): Promise<string> {
  let text = '';
  const out = child.stdout as ChildOutput;
  out.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  await Promise.all([child.exited, once(out, 'end')]);
  return text;
}

suite('sandbox.pidNamespace', { timeout: scaled(30_000) }, () => {
  it('good: the program is PID 2 under our init, in a namespace of its own, and its /proc shows only its tree', async () => {
    const child = spawn({
      program: 'sh',
      args: ['-c', 'echo "$$"; ls /proc | grep -E "^[0-9]+$" | tr "\\n" " "; echo; sleep 30'],
      sandbox: { pidNamespace: true },
      stdout: 'pipe',
    });
    let text = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    expect(await eventually(() => text.split('\n').length >= 3)).toBe(true);
    const [self, listing] = text.split('\n');
    expect(self).toBe('2');
    // init (1), sh (2), and the pipeline's ls/grep/tr: nothing of the host's hundreds.
    const seen = (listing ?? '').trim().split(' ').map(Number);
    expect(seen).toContain(1);
    expect(seen).toContain(2);
    expect(Math.max(...seen)).toBeLessThan(10);

    // From outside: child.pid is the init, PID 1 there, in another namespace than ours.
    expect(fs.readlinkSync(`/proc/${child.pid}/ns/pid`)).not.toBe(
      fs.readlinkSync('/proc/self/ns/pid'),
    );
    expect(procStatusField(child.pid, 'NSpid').split(/\s+/)).toEqual([String(child.pid), '1']);
    const [program] = childrenOf(child.pid);
    expect(procStatusField(program as number, 'NSpid').split(/\s+/)).toEqual([
      String(program),
      '2',
    ]);
    child.kill('SIGKILL');
    await child.exited;
  });

  it("good: status carries the program's own exit code", async () => {
    const child = spawn({ program: 'sh', args: ['-c', 'exit 7'], sandbox: { pidNamespace: true } });
    expect(await child.exited).toMatchObject({ code: 7, signal: null, coreDumped: false });
  });

  it('good: a program killed by SIGSEGV reports SIGSEGV and the same core flag as without a namespace', async () => {
    const args = ['-c', 'kill -SEGV $$'];
    const plain = await spawn({ program: 'sh', args, sandbox: {} }).exited;
    const inNs = await spawn({ program: 'sh', args, sandbox: { pidNamespace: true } }).exited;
    expect(inNs.signal).toBe('SIGSEGV');
    expect(inNs.code).toBe(null);
    expect(inNs.coreDumped).toBe(plain.coreDumped);
  });

  it("good: a program's exec failure is still a synchronous spawn error of the same kind", () => {
    const file = path.join(FIXTURES, 'pidns-host.mjs'); // exists, not executable
    const kindOf = (pidNamespace: boolean) => {
      try {
        spawn({ program: file, sandbox: { pidNamespace } });
      } catch (e) {
        return (e as { kind: string; code: string }).kind;
      }
      return 'spawned';
    };
    expect(kindOf(true)).toBe(kindOf(false));
    expect(kindOf(true)).toBe('PermissionDenied');
  });

  it('good: kill() reaches the program through init: each forwarded signal runs its trap', async () => {
    const names = ['HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'WINCH', 'CONT', 'TERM'] as const;
    const traps = names.map((n) => `trap 'echo ${n}' ${n};`).join(' ');
    const child = spawn({
      program: 'sh',
      // A short foreground sleep: sh runs a trap only between commands.
      args: [
        '-c',
        `${traps} echo ready; i=0; while [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done`,
      ],
      sandbox: { pidNamespace: true },
      stdout: 'pipe',
    });
    let text = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    expect(await eventually(() => text.includes('ready'), scaled(10_000))).toBe(true);
    for (const n of names) {
      child.kill(`SIG${n}`);
      expect(await eventually(() => text.includes(`${n}\n`), scaled(10_000))).toBe(true);
    }
    expect(child.running).toBe(true);
    child.kill('SIGKILL');
    await child.exited;
  });

  it('good: init reaps the orphans that reparent to it (no zombie under it)', async () => {
    const child = spawn({
      program: 'sh',
      args: ['-c', 'sh -c "sleep 0.1 &"; sleep 30'],
      sandbox: { pidNamespace: true },
    });
    // The orphaned sleep ends after 0.1 s; then init's only child is the program.
    const clean = () => {
      const kids = childrenOf(child.pid);
      return kids.length === 1 && kids.every((k) => procState(k) !== 'Z');
    };
    expect(await eventually(clean, scaled(10_000))).toBe(true);
    child.kill('SIGKILL');
    await child.exited;
  });

  it('good: composes with the rest of the sandbox', async () => {
    const child = spawn({
      program: 'sh',
      args: ['-c', 'echo "$$"; cat /proc/self/status | grep -c NSpid'],
      sandbox: { pidNamespace: true, network: 'none', syscalls: 'default', privateTmp: true },
      stdout: 'pipe',
    });
    expect(await output(child)).toBe('2\n1\n');
    expect((await child.exited).code).toBe(0);
  });

  itRoot('good: composes with limits (a pids limit on its cgroup)', async () => {
    const child = spawn({
      program: 'sh',
      args: ['-c', 'echo "$$"'],
      sandbox: { pidNamespace: true },
      limits: { pids: 32 },
      stdout: 'pipe',
    });
    expect(await output(child)).toBe('2\n');
    expect((await child.exited).code).toBe(0);
  });
});

suite("containment: 'pidns'", { timeout: scaled(60_000) }, () => {
  it('good: wait, waitSync, timeout, rusage and pipeTo behave as without a namespace', async () => {
    const a = spawn({ program: 'sh', args: ['-c', 'exit 3'], containment: 'pidns' });
    expect(a.containment).toBe('pidns');
    expect(a.waitSync().code).toBe(3);

    const t = spawn({ program: 'sleep', args: ['30'], containment: 'pidns', timeout: 200 });
    expect((await t.exited).signal).toBe('SIGTERM');
    expect(t.timedOut).toBe(true);

    // The program's CPU time reaches us through init's wait: counted in init's rusage.
    const busy = spawn({
      program: 'sh',
      args: ['-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done'],
      containment: 'pidns',
    });
    const s = await busy.wait();
    expect(s.rusage.userCpuMs + s.rusage.systemCpuMs).toBeGreaterThan(50);

    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'core-process-pidns-')), 'out');
    const src = spawn({ program: 'echo', args: ['hello'], containment: 'pidns', stdout: 'pipe' });
    const moved = await (src.stdout as ChildOutput).pipeTo(file);
    expect(moved.bytes).toBe(6);
    expect(fs.readFileSync(file, 'utf8')).toBe('hello\n');
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  it('good: killTree and killGroup reach the whole tree, setsid members included with SIGKILL', async () => {
    const len = token();
    const script = `sleep ${len} & setsid sleep ${len} & sleep ${len}; wait`;
    const child = spawn({ program: 'sh', args: ['-c', script], containment: 'pidns' });
    expect(await eventually(() => liveWith(len).length === 5)).toBe(true); // init, sh, 3 sleeps
    expect(child.killGroup('SIGKILL')).toBe(true);
    expect(await eventually(() => liveWith(len).length === 0, scaled(2000))).toBe(true);
    await child.exited;

    const again = spawn({ program: 'sh', args: ['-c', script], containment: 'pidns' });
    expect(await eventually(() => liveWith(len).length === 5)).toBe(true);
    expect(again.killTree('SIGKILL')).toBe(true);
    expect(await eventually(() => liveWith(len).length === 0, scaled(2000))).toBe(true);
    expect((await again.exited).signal).toBe('SIGKILL');
  });

  async function hostWith(how: 'spawn' | 'service', len: string, containment?: string) {
    const lib = await compiledLib();
    const args = [path.join(FIXTURES, 'pidns-host.mjs'), lib, how, len];
    if (containment !== undefined) args.push(containment);
    const host = cp.spawn(process.execPath, args, {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    host.stdout.setEncoding('utf8').on('data', (d: string) => {
      text += d;
    });
    expect(await eventually(() => text.includes('"pid"'), scaled(30_000))).toBe(true);
    return host;
  }

  for (const [how, containment] of [
    ['spawn', 'pidns'],
    ['service', undefined],
  ] as const) {
    it(`good: kill -9 of a host (${how === 'spawn' ? "spawn with containment 'pidns'" : 'processService, process.start defaults'}) leaves none of the tree, setsid and background members included, within 2 s`, async () => {
      const len = token();
      const host = await hostWith(how, len, containment);
      try {
        // sh and three sleeps (one setsid'd, one in the background), plus our init where the
        // tree is in a PID namespace.
        expect(await eventually(() => liveWith(len).length >= 4, scaled(10_000))).toBe(true);
        host.kill('SIGKILL');
        expect(await eventually(() => liveWith(len).length === 0, scaled(2000))).toBe(true);
      } finally {
        host.kill('SIGKILL');
        for (const pid of liveWith(len)) process.kill(pid, 'SIGKILL');
      }
    });
  }
});

describe('without our init beside the addon', { timeout: scaled(60_000) }, () => {
  it("bad: sandbox.pidNamespace is Unsupported naming why (never ignored); containment 'pidns' falls back to 'cgroup' with one warning", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-process-noinit-'));
    try {
      const addon = path.join(dir, 'core_process.node');
      fs.copyFileSync(ADDON, addon);
      const lib = await compiledLib();
      const script = `
        const { spawn } = await import(${JSON.stringify(lib)});
        let kind = 'spawned', message = '';
        try { spawn({ program: 'true', sandbox: { pidNamespace: true } }); }
        catch (e) { kind = e.kind; message = e.message; }
        const c = spawn({ program: 'true', containment: 'pidns' });
        await c.exited;
        console.log(JSON.stringify({ kind, message, containment: c.containment }));`;
      const r = cp.spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: childEnv({ CORE_PROCESS_ADDON: addon }),
        encoding: 'utf8',
      });
      const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
      expect(out.kind).toBe('Unsupported');
      expect(out.message).toContain('core-process-init');
      expect(['cgroup', 'group']).toContain(out.containment);
      expect(r.stderr.match(/containment 'pidns' is not available/g)).toHaveLength(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

suite('an install under /tmp', { timeout: scaled(60_000) }, () => {
  it('good: privateTmp does not hide our init from the child (it is exec’d through a descriptor)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-process-tmpinstall-'));
    try {
      const addon = path.join(dir, 'core_process.node');
      fs.copyFileSync(ADDON, addon);
      fs.copyFileSync(
        path.join(path.dirname(ADDON), 'core-process-init'),
        path.join(dir, 'core-process-init'),
      );
      fs.chmodSync(path.join(dir, 'core-process-init'), 0o755);
      const lib = await compiledLib();
      const script = `
        const { spawn } = await import(${JSON.stringify(lib)});
        const c = spawn({ program: 'sh', args: ['-c', 'echo "$$"; test -e "$0" && echo visible || echo hidden', ${JSON.stringify(dir)}],
          sandbox: { pidNamespace: true, privateTmp: true }, stdout: 'pipe' });
        let out = '';
        c.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
        await Promise.all([c.exited, new Promise((r) => c.stdout.once('end', r))]);
        console.log(JSON.stringify({ out, code: (await c.exited).code }));`;
      const r = cp.spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: childEnv({ CORE_PROCESS_ADDON: addon }),
        encoding: 'utf8',
      });
      const line = r.stdout.trim().split('\n').pop() as string;
      // PID 2 under our init, and a /tmp of its own: our install (in the real /tmp) not in it.
      // (Not a count of its entries: under the sanitizer run the runtime preloaded into sh
      // leaves a file of its own there.)
      expect(JSON.parse(line)).toEqual({ out: '2\nhidden\n', code: 0 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
