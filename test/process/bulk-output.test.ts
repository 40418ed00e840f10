// Bulk output (issue 18): caller-owned read buffers ({ onread }) and pipeSize, each checked
// against what the kernel and the child say: a sha256 computed by the child itself, the
// writer's state and write count in /proc, our own VmRSS and /proc/self/fd, real exit signals.
import { createHash } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { ProcessError, type ProcessHandle, spawn } from '../../lib/index.js';
import {
  eventually,
  fdsOf,
  fdTarget,
  procState,
  procStatusField,
  thrown,
  trackChildren,
} from '../helpers.js';

const track = trackChildren();
const GiB = 2 ** 30;

// The child hashes what it writes (tee into sha256sum, whose answer goes to stderr), so the
// digest we compare against never passed through the code under test.
function hashingWriter(bytes: number): { program: string; args: string[] } {
  return {
    program: 'sh',
    args: ['-c', `exec 3>&1; head -c ${bytes} /dev/urandom | tee /dev/fd/3 | sha256sum >&2`],
  };
}

async function text(stream: NodeJS.ReadableStream | null): Promise<string> {
  let out = '';
  for await (const chunk of stream ?? []) out += chunk.toString();
  return out;
}

// The pipe inode the child writes its stdout into, as the kernel names it ('pipe:[123]').
function childStdoutPipe(child: ProcessHandle): string {
  return fdTarget(child.pid, 1);
}

// Our descriptors that point at `target`.
function ourFdsOn(target: string): number[] {
  return fdsOf('self').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === target;
    } catch {
      return false;
    }
  });
}

// Bytes the process has written so far (/proc/<pid>/io wchar).
function wchar(pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^wchar:\s*(\d+)$/m.exec(io)?.[1]);
}

function vmRssKb(): number {
  return Number.parseInt(procStatusField('self', 'VmRSS'), 10);
}

describe('stdout: { onread } reads into the caller’s buffer', () => {
  it('delivers 1 GiB in order: our sha256 equals the one the child computed', async () => {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(256 * 1024);
    let calls = 0;
    const seen = new Set<Uint8Array>();
    const child = track(
      spawn({
        ...hashingWriter(GiB),
        stdout: {
          onread: {
            buffer,
            callback(nread, buf) {
              calls++;
              seen.add(buf);
              hash.update(buf.subarray(0, nread));
            },
          },
        },
        stderr: 'pipe',
      }),
    );
    const [childDigest, status] = await Promise.all([
      text(child.stderr),
      child.exited,
      finished(child.stdout as NodeJS.ReadableStream),
    ]);
    expect(status.code).toBe(0);
    expect(hash.digest('hex')).toBe(childDigest.split(' ')[0]);
    expect((child.stdout as unknown as { bytesRead: number }).bytesRead).toBe(GiB);
    // Every read landed in the one buffer we gave: nothing was allocated per read.
    expect([...seen]).toEqual([buffer]);
    expect(calls).toBeGreaterThanOrEqual(GiB / buffer.length);
  }, 300_000);

  it('a buffer function is asked per read and its buffers are used in turn', async () => {
    const pool = [Buffer.allocUnsafe(4096), Buffer.allocUnsafe(8192)];
    let next = 0;
    const used = new Set<Uint8Array>();
    const hash = createHash('sha256');
    const child = track(
      spawn({
        ...hashingWriter(8 * 2 ** 20),
        stdout: {
          onread: {
            buffer: () => pool[next++ % 2] as Buffer,
            callback(nread, buf) {
              used.add(buf);
              hash.update(buf.subarray(0, nread));
            },
          },
        },
        stderr: 'pipe',
      }),
    );
    const [digest] = await Promise.all([text(child.stderr), child.exited]);
    await finished(child.stdout as NodeJS.ReadableStream);
    expect(hash.digest('hex')).toBe(digest.split(' ')[0]);
    expect(used.size).toBe(2);
  }, 60_000);

  it('returning false pauses: the writer blocks in write(), our RSS stays flat, resume() finishes', async () => {
    const total = 512 * 2 ** 20;
    let got = 0;
    let pauseNext = true;
    const child = track(
      spawn({
        program: 'head',
        args: ['-c', String(total), '/dev/zero'],
        stdout: {
          onread: {
            buffer: Buffer.allocUnsafe(64 * 1024),
            callback(nread) {
              got += nread;
              if (pauseNext) {
                pauseNext = false;
                return false;
              }
              return true;
            },
          },
        },
      }),
    );
    const rssBefore = vmRssKb();
    expect(await eventually(() => got > 0, 10_000)).toBe(true);
    // Paused after the first read: the writer fills the pipe (at most 1 MiB here) and then
    // sleeps in pipe_write; its write count stops moving.
    expect(await eventually(() => procState(child.pid) === 'S', 10_000)).toBe(true);
    const written = wchar(child.pid);
    await new Promise((r) => setTimeout(r, 500));
    expect(wchar(child.pid)).toBe(written);
    expect(procState(child.pid)).toBe('S');
    expect(written).toBeLessThan(8 * 2 ** 20);
    expect(got).toBeLessThanOrEqual(64 * 1024);
    expect(child.running).toBe(true);
    expect(vmRssKb() - rssBefore).toBeLessThan(32 * 1024);

    child.stdout?.resume();
    await finished(child.stdout as NodeJS.ReadableStream);
    const status = await child.exited;
    expect(status.code).toBe(0);
    expect(got).toBe(total);
  }, 120_000);

  it('a callback that throws: the stream errors, our pipe end closes, the writer dies of SIGPIPE', async () => {
    const boom = new Error('consumer failed');
    let calls = 0;
    const child = track(
      spawn({
        program: 'head',
        args: ['-c', String(GiB), '/dev/zero'],
        stdout: {
          onread: {
            buffer: Buffer.allocUnsafe(64 * 1024),
            callback() {
              if (++calls === 3) throw boom;
            },
          },
        },
      }),
    );
    const pipe = childStdoutPipe(child);
    const errored = new Promise<Error>((resolve) => child.stdout?.once('error', resolve));
    expect(await errored).toBe(boom);
    expect(calls).toBe(3);
    const status = await child.exited;
    expect(status.signal).toBe('SIGPIPE');
    expect(procState(child.pid)).toBeNull(); // reaped, not a zombie
    expect(ourFdsOn(pipe)).toEqual([]);
  }, 60_000);

  it('paused then destroyed: no descriptor and no child are left behind', async () => {
    const child = track(
      spawn({
        program: 'head',
        args: ['-c', String(GiB), '/dev/zero'],
        stdout: { onread: { buffer: Buffer.allocUnsafe(4096), callback: () => false } },
      }),
    );
    const pipe = childStdoutPipe(child);
    expect(await eventually(() => procState(child.pid) === 'S', 10_000)).toBe(true);
    expect(ourFdsOn(pipe)).toHaveLength(1);
    child.stdout?.destroy();
    const status = await child.exited;
    expect(status.signal).toBe('SIGPIPE');
    expect(ourFdsOn(pipe)).toEqual([]);
  }, 60_000);

  it('stderr takes onread too, and stdout stays an ordinary stream beside it', async () => {
    let err = '';
    const child = track(
      spawn({
        program: 'sh',
        args: ['-c', 'echo out; echo err >&2'],
        stdout: 'pipe',
        stderr: {
          onread: {
            buffer: Buffer.alloc(3),
            callback(n, b) {
              err += Buffer.from(b.subarray(0, n)).toString();
            },
          },
        },
      }),
    );
    expect(await text(child.stdout)).toBe('out\n');
    await finished(child.stderr as NodeJS.ReadableStream);
    expect(err).toBe('err\n');
  });

  it('refuses bad specs before spawning, naming the field', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ stdin: { onread: { buffer: Buffer.alloc(1), callback() {} } } }, 'stdin.onread'],
      [{ stdout: { onread: { buffer: Buffer.alloc(0), callback() {} } } }, 'stdout.onread.buffer'],
      [{ stdout: { onread: { buffer: 'x', callback() {} } } }, 'stdout.onread.buffer'],
      [{ stderr: { onread: { buffer: Buffer.alloc(8) } } }, 'stderr.onread.callback'],
      [{ stdout: { onread: null } }, 'stdout.onread'],
    ];
    for (const [options, field] of cases) {
      const e = thrown(ProcessError, () => spawn({ program: 'true', ...options }));
      expect(e.kind).toBe('InvalidCommand');
      expect(e.field).toBe(field);
    }
  });
});

// The kernel's F_SETPIPE_SZ answer as the child sees it on its own stdout (fcntl 1032 is
// F_GETPIPE_SZ), printed into that very pipe.
const PRINT_PIPE_SIZE = 'import fcntl; print(fcntl.fcntl(1, 1032))';

function hasCapSysResource(): boolean {
  return ((BigInt(`0x${procStatusField('self', 'CapEff')}`) >> 24n) & 1n) === 1n;
}

describe('pipeSize', () => {
  const pipeMax = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'));

  it('sets the capacity of the child’s stdout pipe before it runs', async () => {
    const child = track(
      spawn({
        program: 'python3',
        args: ['-c', PRINT_PIPE_SIZE],
        stdout: 'pipe',
        pipeSize: pipeMax,
      }),
    );
    expect(Number(await text(child.stdout))).toBe(pipeMax);
    const small = track(
      spawn({ program: 'python3', args: ['-c', PRINT_PIPE_SIZE], stdout: 'pipe', pipeSize: 16384 }),
    );
    expect(Number(await text(small.stdout))).toBe(16384);
  });

  it('above /proc/sys/fs/pipe-max-size: refused naming that file unless CAP_SYS_RESOURCE', async () => {
    const size = pipeMax * 2;
    if (hasCapSysResource()) {
      const child = track(
        spawn({
          program: 'python3',
          args: ['-c', PRINT_PIPE_SIZE],
          stdout: 'pipe',
          pipeSize: size,
        }),
      );
      expect(Number(await text(child.stdout))).toBe(size);
      return;
    }
    const e = thrown(ProcessError, () =>
      spawn({ program: 'true', stdout: 'pipe', pipeSize: size }),
    );
    expect(e.kind).toBe('PermissionDenied');
    expect(e.field).toBe('pipeSize');
    expect(e.path).toBe('/proc/sys/fs/pipe-max-size');
    expect(e.message).toContain('/proc/sys/fs/pipe-max-size');
  });

  it('refuses a size that is not a whole number of bytes >= 4096', () => {
    for (const bad of [0, 100, 1.5, -1, '1m', 2 ** 31]) {
      const e = thrown(ProcessError, () =>
        spawn({ program: 'true', pipeSize: bad as unknown as number }),
      );
      expect(e.kind).toBe('InvalidCommand');
      expect(e.field).toBe('pipeSize');
    }
  });
});
