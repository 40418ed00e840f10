// The process service's building blocks: the output ring buffer and one managed process,
// checked against real children (exit codes, signals, /proc) and their real output.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcessError } from '../../lib/errors.js';
import { nextId } from '../../lib/service/ids.js';
import { type ManagedEvent, ManagedProcess } from '../../lib/service/managed.js';
import { OutputRing } from '../../lib/service/ring.js';
import { eventually, runningAsleep } from '../helpers.js';

describe('OutputRing', () => {
  it('good: keeps everything below capacity, in order', () => {
    const r = new OutputRing(8);
    r.append(Buffer.from('abc'));
    r.append(Buffer.from('de'));
    expect(r.read().toString()).toBe('abcde');
    expect(r.dropped).toBe(0);
  });

  it('bad: a capacity of 0 is refused naming the value', () => {
    expect(() => new OutputRing(0)).toThrow(/capacity 0 must be a positive integer/);
  });

  it('ugly: wraps around, and a chunk larger than the ring keeps only its tail; drops are counted', () => {
    const r = new OutputRing(4);
    r.append(Buffer.from('abc'));
    r.append(Buffer.from('def')); // wraps
    expect(r.read().toString()).toBe('cdef');
    expect(r.dropped).toBe(2);
    r.append(Buffer.from('0123456789'));
    expect(r.read().toString()).toBe('6789');
    expect(r.dropped).toBe(12);
    expect(r.total).toBe(16);
  });
});

describe('OutputRing growth', () => {
  it('ugly: grows on demand past its first allocation, then wraps, keeping exactly the newest bytes', () => {
    const r = new OutputRing(10_000);
    const all: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      const chunk = Buffer.alloc(3000, 65 + i);
      all.push(chunk);
      r.append(chunk);
    }
    const whole = Buffer.concat(all);
    expect(r.read().equals(whole.subarray(whole.length - 10_000))).toBe(true);
    expect(r.dropped).toBe(5000);
  });
});

describe('nextId', () => {
  it('good: ids are unique, carry the prefix and a UUIDv7 from core.ID()', () => {
    const a = nextId('proc');
    const b = nextId('proc');
    expect(a).toMatch(/^proc-[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
    expect(a < b).toBe(true); // time-ordered, monotonic within a millisecond
  });
});

function managed(options: ConstructorParameters<typeof ManagedProcess>[1], size = 1 << 20) {
  const events: ManagedEvent[] = [];
  const m = new ManagedProcess(nextId('proc'), options, size, (e) => events.push(e));
  return { m, events };
}

describe('ManagedProcess', () => {
  it('good: output lands in the rings and as one event per line, then exited with the code', async () => {
    const { m, events } = managed({
      program: 'sh',
      args: ['-c', 'printf "a\\nb"; echo err >&2; exit 3'],
    });
    const status = await m.done;
    expect(status?.code).toBe(3);
    expect(m.output()).toEqual({
      stdout: 'a\nb',
      stderr: 'err\n',
      dropped: { stdout: 0, stderr: 0 },
    });
    const topics = events.map((e) => e.topic);
    expect(topics[0]).toBe('process.started');
    expect(topics.at(-1)).toBe('process.exited');
    const lines = events.filter((e) => e.topic === 'process.output').map((e) => e.payload);
    expect(lines).toEqual(
      expect.arrayContaining([
        { id: m.id, stream: 'stdout', line: 'a' },
        { id: m.id, stream: 'stdout', line: 'b' },
        { id: m.id, stream: 'stderr', line: 'err' },
      ]),
    );
    expect(m.snapshot()).toMatchObject({
      status: 'exited',
      exitCode: 3,
      signal: null,
      command: 'sh',
    });
  });

  it('bad: a program that does not exist is status failed, and the error is rethrown', () => {
    const events: ManagedEvent[] = [];
    expect(
      () =>
        new ManagedProcess('proc-x', { program: 'no-such-program-zz' }, 1024, (e) =>
          events.push(e),
        ),
    ).toThrow(ProcessError);
    expect(events).toEqual([]);
  });

  it('ugly: killed while running is status killed with the signal; stdin input reaches the child', async () => {
    const { m, events } = managed({ program: 'cat' });
    await m.input('hello\n');
    await eventually(() => m.output().stdout === 'hello\n');
    expect(m.kill('SIGTERM')).toBe(true);
    await m.done;
    expect(m.snapshot()).toMatchObject({ status: 'killed', signal: 'SIGTERM' });
    expect(events.some((e) => e.topic === 'process.killed')).toBe(true);
    expect(m.kill('SIGTERM')).toBe(false);
  });

  it('ugly: a ring smaller than the output keeps the newest bytes and counts the rest', async () => {
    const { m } = managed({ program: 'sh', args: ['-c', 'printf 0123456789'] }, 4);
    await m.done;
    expect(m.output()).toMatchObject({ stdout: '6789', dropped: { stdout: 6, stderr: 0 } });
  });

  it('good: the snapshot names pid and pgid of a live child as /proc has them', async () => {
    const { m } = managed({ program: 'sleep', args: ['30'], processGroup: true });
    const pid = m.snapshot().pid as number;
    expect(await eventually(() => runningAsleep(pid))).toBe(true);
    expect(m.snapshot()).toMatchObject({ status: 'running', pid, pgid: pid });
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    m.kill('SIGKILL', true);
    await m.done;
    expect(m.snapshot().status).toBe('killed');
  });
});

describe('ManagedProcess without listeners', () => {
  it('good: when nobody wants events none are built, and the output is still captured whole', async () => {
    const events: ManagedEvent[] = [];
    const asked: string[] = [];
    const m = new ManagedProcess(
      nextId('proc'),
      { program: 'sh', args: ['-c', 'printf "x\\ny"; echo e >&2'] },
      1 << 20,
      (e) => events.push(e),
      (topic) => {
        asked.push(topic);
        return false;
      },
    );
    expect((await m.done)?.code).toBe(0);
    expect(events).toEqual([]);
    expect(new Set(asked)).toEqual(
      new Set(['process.started', 'process.output', 'process.exited']),
    );
    expect(m.output()).toMatchObject({ stdout: 'x\ny', stderr: 'e\n' });
  });

  it('ugly: a silent child has empty output and nothing dropped', async () => {
    const m = new ManagedProcess(
      nextId('proc'),
      { program: 'true' },
      1024,
      () => {},
      () => false,
    );
    await m.done;
    expect(m.output()).toEqual({ stdout: '', stderr: '', dropped: { stdout: 0, stderr: 0 } });
  });
});
