// Bulk output (issue 18): caller-owned read buffers ({ onread }) and pipeSize, each checked
// against what the kernel and the child say: a sha256 computed by the child itself, the
// writer's state and write count in /proc, our own VmRSS and /proc/self/fd, real exit signals.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { type ChildOutput, ProcessError, type ProcessHandle, spawn } from '../../lib/index.js';
import {
  eventually,
  fdsOf,
  fdTarget,
  procState,
  procStatusField,
  tempDir,
  thrown,
  trackChildren,
} from '../helpers.js';
import { childEnv, compiledLib, FIXTURES } from '../subprocess.js';

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

// The capacity of the child's stdout pipe, as the kernel enforces it: dd writes 4 KiB blocks
// without blocking until the pipe is full (EAGAIN), and nothing reads until dd has exited
// (a handle's streams are created on first access or at exit), so what arrives is exactly
// what the pipe held.
async function capacityOfStdout(pipeSize: number): Promise<number> {
  const child = track(
    spawn({
      program: 'dd',
      args: ['if=/dev/zero', 'bs=4096', 'count=100000', 'oflag=nonblock', 'status=none'],
      stdout: 'pipe',
      stderr: 'null',
      pipeSize,
    }),
  );
  const status = await child.exited;
  expect(status.code).toBe(1); // "Resource temporarily unavailable": the pipe was full
  let bytes = 0;
  for await (const chunk of child.stdout ?? []) bytes += (chunk as Buffer).length;
  return bytes;
}

function hasCapSysResource(): boolean {
  return ((BigInt(`0x${procStatusField('self', 'CapEff')}`) >> 24n) & 1n) === 1n;
}

describe('pipeSize', () => {
  const pipeMax = Number(readFileSync('/proc/sys/fs/pipe-max-size', 'utf8'));

  it('sets the capacity of the child’s stdout pipe before it runs', async () => {
    expect(await capacityOfStdout(pipeMax)).toBe(pipeMax);
    expect(await capacityOfStdout(16384)).toBe(16384);
  });

  it('above /proc/sys/fs/pipe-max-size: refused naming that file unless CAP_SYS_RESOURCE', async () => {
    const size = pipeMax * 2;
    if (hasCapSysResource()) {
      expect(await capacityOfStdout(size)).toBe(size);
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

describe('child.stdout.pipeTo(destination) moves the bytes off the JS thread', () => {
  it('1 GiB into a file: sha256sum of the file equals the one the child computed', async () => {
    const file = path.join(tempDir(), 'out.bin');
    try {
      const child = track(spawn({ ...hashingWriter(GiB), stdout: 'pipe', stderr: 'pipe' }));
      const [moved, digest, status] = await Promise.all([
        (child.stdout as ChildOutput).pipeTo(file),
        text(child.stderr),
        child.exited,
      ]);
      expect(status.code).toBe(0);
      expect(moved.bytes).toBe(GiB);
      expect(statSync(file).size).toBe(GiB);
      const fileDigest = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
      expect(fileDigest).toBe(digest.split(' ')[0]);
    } finally {
      rmSync(path.dirname(file), { recursive: true, force: true });
    }
  }, 300_000);

  it('bytes the stream had already read go first, in order', async () => {
    const file = path.join(tempDir(), 'out.txt');
    const child = track(
      spawn({ program: 'sh', args: ['-c', 'echo first; sleep 0.3; echo second'], stdout: 'pipe' }),
    );
    const out = child.stdout as ChildOutput;
    expect(await eventually(() => out.readableLength > 0)).toBe(true);
    const moved = await out.pipeTo({ file });
    expect(readFileSync(file, 'utf8')).toBe('first\nsecond\n');
    expect(moved.bytes).toBe(13);
    await finished(out); // the stream ends once the transfer is done
    expect(out.readableEnded).toBe(true);
  });

  it('where splice refuses (an O_APPEND descriptor) the read/write loop does the work', async () => {
    const file = path.join(tempDir(), 'log.txt');
    writeFileSync(file, 'head\n');
    const fd = openSync(file, 'a');
    try {
      const child = track(spawn({ program: 'seq', args: ['3'], stdout: 'pipe' }));
      const moved = await (child.stdout as ChildOutput).pipeTo(fd, { method: 'splice' });
      expect(moved).toEqual({ bytes: 6, spliced: false });
      expect(readFileSync(file, 'utf8')).toBe('head\n1\n2\n3\n');
    } finally {
      closeSync(fd);
    }
  });

  it('into a socket, with back-pressure: a reader that stops blocks the writer and our RSS stays flat', async () => {
    const total = 256 * 2 ** 20;
    const hash = createHash('sha256');
    let received = 0;
    let peer: net.Socket | undefined;
    const server = net.createServer((s) => {
      peer = s;
      s.pause();
      s.on('data', (chunk: Buffer) => {
        received += chunk.length;
        hash.update(chunk);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    try {
      const child = track(spawn({ ...hashingWriter(total), stdout: 'pipe', stderr: 'pipe' }));
      const digest = text(child.stderr);
      const rssBefore = vmRssKb();
      const moving = (child.stdout as ChildOutput).pipeTo(socket);
      expect(await eventually(() => peer !== undefined)).toBe(true);
      // The peer is not reading: socket buffers and the pipe fill, then `head` (the
      // writer's first stage) sleeps and its write count stops moving.
      const head = await eventually(() => headPid(child.pid) !== null, 10_000);
      expect(head).toBe(true);
      const headPidNum = headPid(child.pid) as number;
      let before = -1;
      expect(
        await eventually(() => {
          const now = wchar(headPidNum);
          const still = now === before;
          before = now;
          return still && procState(headPidNum) === 'S';
        }, 20_000),
      ).toBe(true);
      expect(before).toBeLessThan(total / 2);
      expect(vmRssKb() - rssBefore).toBeLessThan(32 * 1024);
      peer?.resume();
      const moved = await moving;
      socket.end();
      expect(moved.bytes).toBe(total);
      expect(moved.spliced).toBe(true);
      await eventually(() => received === total, 20_000);
      expect(hash.digest('hex')).toBe((await digest).split(' ')[0]);
      expect((await child.exited).code).toBe(0);
    } finally {
      socket.destroy();
      server.close();
    }
  }, 120_000);

  it('a destination that fails: typed error naming the syscall, the writer gets SIGPIPE, no fd left', async () => {
    const server = net.createServer((s) => {
      // Read a little, then reset the connection under the transfer.
      s.once('data', () => s.resetAndDestroy());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    try {
      const child = track(
        spawn({ program: 'head', args: ['-c', String(GiB), '/dev/zero'], stdout: 'pipe' }),
      );
      const pipe = childStdoutPipe(child);
      const e = await (child.stdout as ChildOutput).pipeTo(socket).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(ProcessError);
      expect(['EPIPE', 'ECONNRESET']).toContain((e as ProcessError).code);
      expect((e as ProcessError).syscall).toBe('splice');
      expect((await child.exited).signal).toBe('SIGPIPE');
      expect(ourFdsOn(pipe)).toEqual([]);
    } finally {
      socket.destroy();
      server.close();
    }
  }, 60_000);

  it('destroying the stream cancels the transfer: rejected, the writer gets SIGPIPE, no fd left', async () => {
    {
      // A destination that never drains: the write end of a pipe nobody reads.
      const sink = spawn({ program: 'sleep', args: ['30'], stdin: 'pipe', stdout: 'null' });
      track(sink);
      const child = track(
        spawn({ program: 'head', args: ['-c', String(GiB), '/dev/zero'], stdout: 'pipe' }),
      );
      const pipe = childStdoutPipe(child);
      const out = child.stdout as ChildOutput;
      const moving = out.pipeTo(sink.stdin as unknown as net.Socket);
      expect(await eventually(() => procState(child.pid) === 'S', 10_000)).toBe(true);
      out.destroy();
      const e = await moving.then(
        () => null,
        (err: unknown) => err,
      );
      expect((e as ProcessError).code).toBe('ECANCELED');
      expect((await child.exited).signal).toBe('SIGPIPE');
      expect(await eventually(() => ourFdsOn(pipe).length === 0)).toBe(true);
    }
  }, 60_000);

  it('a worker that goes away mid-transfer stops its pipeTo and onread children (SIGPIPE), no crash', async () => {
    const lib = await compiledLib();
    const worker = new Worker(path.join(FIXTURES, 'bulk-worker.mjs'), {
      workerData: { lib },
      env: childEnv(),
    });
    const pids = await new Promise<{ piped: number; read: number }>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', resolve);
    });
    // Both are moving data (the transfer and the reader run), then the worker is gone.
    expect(await eventually(() => wchar(pids.piped) > 4 * 2 ** 20, 10_000)).toBe(true);
    expect(await eventually(() => wchar(pids.read) > 4 * 2 ** 20, 10_000)).toBe(true);
    await worker.terminate();
    // Our ends closed: each writer dies of SIGPIPE and the orphan reaper reaps it.
    for (const pid of [pids.piped, pids.read]) {
      expect(await eventually(() => procState(pid) === null, 10_000)).toBe(true);
    }
  }, 60_000);

  it('refuses what it cannot write to, and an onread stream', async () => {
    const child = track(spawn({ program: 'true', stdout: 'pipe' }));
    for (const bad of [-1, '', { nope: 1 }, null]) {
      const e = await (child.stdout as ChildOutput)
        .pipeTo(bad as unknown as number)
        .catch((err: unknown) => err);
      expect((e as ProcessError).kind).toBe('InvalidCommand');
    }
    const withOnread = track(
      spawn({
        program: 'true',
        stdout: { onread: { buffer: Buffer.alloc(16), callback() {} } },
      }),
    );
    const e = await (withOnread.stdout as ChildOutput).pipeTo('/dev/null').catch((err) => err);
    expect((e as ProcessError).kind).toBe('InvalidCommand');
    expect((e as ProcessError).field).toBe('stdout.onread');
  });
});

// The pid of `head` under the hashing writer's shell (its child whose comm is 'head').
function headPid(shPid: number): number | null {
  try {
    const kids = readFileSync(`/proc/${shPid}/task/${shPid}/children`, 'utf8').trim().split(/\s+/);
    for (const k of kids) {
      if (k && readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'head') return Number(k);
    }
  } catch {
    // gone
  }
  return null;
}
