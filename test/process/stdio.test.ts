// Each stdio mode, observed from the child's own /proc/<pid>/fd links and from real bytes.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ProcessHandle, run, spawn } from '../../lib/index.js';
import { eventually, fdsOf, fdTarget, runningAsleep, tempDir } from '../helpers.js';

const started: ProcessHandle[] = [];
afterEach(async () => {
  for (const h of started.splice(0)) {
    if (h.running) h.kill('SIGKILL');
    await h.exited;
  }
});

async function sleeper(options: Parameters<typeof spawn>[0]): Promise<ProcessHandle> {
  const child = spawn(options);
  started.push(child);
  await eventually(() => runningAsleep(child.pid));
  return child;
}

async function readAll(stream: NodeJS.ReadableStream | null): Promise<string> {
  if (!stream) throw new Error('no stream');
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text;
}

describe('stdio', () => {
  it("'inherit' gives the child our own descriptors", async () => {
    const child = await sleeper({
      program: 'sleep',
      args: ['30'],
      stdout: 'inherit',
      stderr: 'inherit',
    });
    expect(fdTarget(child.pid, 1)).toBe(fdTarget('self', 1));
    expect(fdTarget(child.pid, 2)).toBe(fdTarget('self', 2));
    expect(child.stdout).toBeNull();
  });

  it("'null' connects /dev/null", async () => {
    const child = await sleeper({
      program: 'sleep',
      args: ['30'],
      stdin: 'null',
      stdout: 'null',
      stderr: 'null',
    });
    for (const fd of [0, 1, 2]) expect(fdTarget(child.pid, fd)).toBe('/dev/null');
  });

  it("'pipe' connects pipes that carry bytes both ways", async () => {
    const child = spawn({
      program: 'sh',
      args: ['-c', 'read line; echo "got $line"; echo oops >&2'],
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    child.stdin?.end('hello\n');
    const [out, err, status] = await Promise.all([
      readAll(child.stdout),
      readAll(child.stderr),
      child.exited,
    ]);
    expect(out).toBe('got hello\n');
    expect(err).toBe('oops\n');
    expect(status.code).toBe(0);
  });

  it("'pipe' connects real pipes (FIFOs), so /dev/stdout and SIGPIPE work as in a shell", async () => {
    const child = await sleeper({
      program: 'sleep',
      args: ['30'],
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    expect(fdTarget(child.pid, 0)).toMatch(/^pipe:\[\d+\]$/);
    expect(fdTarget(child.pid, 1)).toMatch(/^pipe:\[\d+\]$/);
    expect(fdTarget(child.pid, 2)).toMatch(/^pipe:\[\d+\]$/);
    const r = await run('sh', ['-c', 'echo via-dev-stdout > /dev/stdout']);
    expect(r.stdout).toBe('via-dev-stdout\n');
  });

  it("'socketpair' connects a unix stream socket that carries bytes both ways", async () => {
    const child = await sleeper({
      program: 'sleep',
      args: ['30'],
      stdin: 'socketpair',
      stdout: 'socketpair',
    });
    expect(fdTarget(child.pid, 0)).toMatch(/^socket:\[\d+\]$/);
    expect(fdTarget(child.pid, 1)).toMatch(/^socket:\[\d+\]$/);
    const r = await run('sh', ['-c', 'read x; echo "got $x"; echo e >&2'], {
      input: 'sock\n',
      stdout: 'socketpair',
      stderr: 'socketpair',
    });
    expect(r.stdout).toBe('got sock\n');
    expect(r.stderr).toBe('e\n');
  });

  it('a reader that goes away makes the writing child fail with EPIPE/SIGPIPE, not hang', async () => {
    const child = spawn({ program: 'yes', stdout: 'pipe' });
    child.stdout?.destroy();
    const status = await child.wait({ timeout: 10_000 });
    expect(status.signal).toBe('SIGPIPE');
  });

  it('{ file } truncates, { file, append } appends, and stdin reads a file', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'out.txt');
    writeFileSync(file, 'old contents\n');
    await spawn({ program: 'echo', args: ['one'], stdout: { file } }).exited;
    expect(readFileSync(file, 'utf8')).toBe('one\n');
    await spawn({ program: 'echo', args: ['two'], stdout: { file, append: true } }).exited;
    expect(readFileSync(file, 'utf8')).toBe('one\ntwo\n');
    const r = await run('cat', [], { stdin: { file } });
    expect(r.stdout).toBe('one\ntwo\n');
  });

  it('{ file } creates the file and resolves a relative path against our cwd', async () => {
    const dir = tempDir();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      await spawn({
        program: 'echo',
        args: ['rel'],
        stderr: 'null',
        stdout: { file: 'new.txt' },
        cwd: '/',
      }).exited;
    } finally {
      process.chdir(cwd);
    }
    expect(readFileSync(path.join(dir, 'new.txt'), 'utf8')).toBe('rel\n');
  });

  it('{ fd } hands over one of our descriptors', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'fd.txt');
    const fd = openSync(file, 'w');
    try {
      await spawn({
        program: 'sh',
        args: ['-c', 'echo to-fd; echo err-too >&2'],
        stdout: { fd },
        stderr: { fd },
      }).exited;
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(file, 'utf8')).toBe('to-fd\nerr-too\n');
  });

  it('{ fd: 1 } into stdin swaps streams without clobbering (sources lifted above 2)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'swap.txt');
    const fd = openSync(file, 'w');
    try {
      // stdout goes to the file, stderr to wherever our stdout goes: fd 1 must be read
      // before the child's dup2 onto 1 replaces it.
      const child = await sleeper({
        program: 'sleep',
        args: ['30'],
        stdout: { fd },
        stderr: { fd: 1 },
      });
      expect(fdTarget(child.pid, 1)).toBe(file);
      expect(fdTarget(child.pid, 2)).toBe(fdTarget('self', 1));
    } finally {
      closeSync(fd);
    }
  });

  it('unread pipes still deliver their data after exit', async () => {
    const child = spawn({ program: 'echo', args: ['late reader'], stdout: 'pipe' });
    await child.exited;
    expect(await readAll(child.stdout)).toBe('late reader\n');
  });

  it('closes our copies of the child ends: EOF arrives and no descriptor is left', async () => {
    const before = fdsOf('self').length;
    for (let i = 0; i < 20; i++) {
      const r = await run('echo', [String(i)]);
      expect(r.stdout).toBe(`${i}\n`);
    }
    expect(await eventually(() => fdsOf('self').length <= before)).toBe(true);
  });
});
