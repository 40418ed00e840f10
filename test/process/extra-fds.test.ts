// spawn({ extraFds }): our descriptors as the child's fd 3, 4, ...; null leaves one closed.
// Observed from the running child's /proc/<pid>/fd and from the bytes it writes. Run on every
// backend (posix_spawn, clone, sigchld): a hole below an open slot takes the clone child.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessError, type ProcessHandle, spawn } from '../../lib/index.js';
import { eventually, runningAsleep, tempDir } from '../helpers.js';

const started: ProcessHandle[] = [];
const opened: number[] = [];
afterEach(async () => {
  for (const h of started.splice(0)) {
    if (h.running) h.kill('SIGKILL');
    await h.exited;
  }
  for (const fd of opened.splice(0)) closeSync(fd);
});

function file(name: string): { path: string; fd: number } {
  const p = path.join(tempDir(), name);
  const fd = openSync(p, 'w');
  opened.push(fd);
  return { path: p, fd };
}

describe('extraFds', () => {
  it('gives the child our fds as 3 and 4, and it writes through them', async () => {
    const a = file('a.txt');
    const b = file('b.txt');
    const child = spawn({
      program: 'sh',
      args: ['-c', 'echo three >&3; echo four >&4'],
      extraFds: [a.fd, b.fd],
    });
    started.push(child);
    expect((await child.exited).code).toBe(0);
    expect(readFileSync(a.path, 'utf8')).toBe('three\n');
    expect(readFileSync(b.path, 'utf8')).toBe('four\n');
  });

  it('null leaves a slot closed; nothing else above 2 reaches the child', async () => {
    const b = file('b.txt');
    const child = spawn({ program: 'sleep', args: ['30'], extraFds: [null, b.fd] });
    started.push(child);
    await eventually(() => runningAsleep(child.pid));
    const fds = readdir(child.pid);
    expect(fds).toEqual([0, 1, 2, 4]);
    expect(readlinkSync(`/proc/${child.pid}/fd/4`)).toBe(b.path);
  });

  it('a low fd of ours (0..2) can be an extra without clobbering stdio', async () => {
    const child = spawn({ program: 'sleep', args: ['30'], stdout: 'null', extraFds: [1] });
    started.push(child);
    await eventually(() => runningAsleep(child.pid));
    expect(readlinkSync(`/proc/${child.pid}/fd/1`)).toBe('/dev/null');
    expect(readlinkSync(`/proc/${child.pid}/fd/3`)).toBe(readlinkSync('/proc/self/fd/1'));
  });

  it('refuses a bad entry before any syscall, naming it', () => {
    expect(() => spawn({ program: 'true', extraFds: [3, -1] })).toThrow(ProcessError);
    expect(() => spawn({ program: 'true', extraFds: [3, -1] })).toThrow(/extraFds\[1\]/);
  });

  it('a closed fd of ours fails the spawn with EBADF', () => {
    const { fd } = file('c.txt');
    closeSync(fd);
    opened.pop();
    expect(() => spawn({ program: 'true', extraFds: [fd] })).toThrow(
      expect.objectContaining({ code: 'EBADF' }),
    );
  });
});

function readdir(pid: number): number[] {
  return readdirSync(`/proc/${pid}/fd`)
    .map(Number)
    .sort((x, y) => x - y);
}
