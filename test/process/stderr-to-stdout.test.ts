// stderr: 'stdout' is the shell's 2>&1: the child's fd 2 is the very pipe of its fd 1, so the
// two streams arrive in the order written. Checked through /proc: both fds name one pipe inode.
import { readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawn } from '../../lib/process/spawn.js';

async function readAll(stream: NodeJS.ReadableStream | null): Promise<string> {
  let text = '';
  for await (const chunk of stream ?? []) text += String(chunk);
  return text;
}

describe("spawn stderr: 'stdout'", () => {
  it('good: fd 1 and fd 2 of the child are one pipe, and the output keeps its order', async () => {
    const child = spawn({
      program: 'sh',
      args: ['-c', 'read x; for i in 1 2 3; do echo o$i; echo e$i >&2; done'],
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'stdout',
    });
    const fd1 = readlinkSync(`/proc/${child.pid}/fd/1`);
    const fd2 = readlinkSync(`/proc/${child.pid}/fd/2`);
    expect(fd1).toMatch(/^pipe:\[\d+\]$/);
    expect(fd2).toBe(fd1);
    expect(child.stderr).toBeNull();
    const text = readAll(child.stdout);
    child.stdin?.end('go\n');
    expect(await text).toBe('o1\ne1\no2\ne2\no3\ne3\n');
    expect((await child.exited).code).toBe(0);
  });

  it("bad: 'stdout' is a stderr spec only", () => {
    expect(() => spawn({ program: 'true', stdout: 'stdout' })).toThrow(
      /stdout.*'stdout' is a stderr spec only/,
    );
  });

  it('ugly: with stdout inherited, stderr follows it to the same file', async () => {
    const child = spawn({ program: 'sleep', args: ['5'], stdout: 'null', stderr: 'stdout' });
    expect(readlinkSync(`/proc/${child.pid}/fd/2`)).toBe('/dev/null');
    child.kill('SIGKILL');
    await child.exited;
  });
});
