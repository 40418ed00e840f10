// monotonicNs and sleepUntil, checked against clocks the code under test does not own
// (process.hrtime, which libuv reads from CLOCK_MONOTONIC itself) and against a real signal.
import cp from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessError } from '../../lib/errors.js';
import { monotonicNs, sleepUntil } from '../../lib/thread/clock.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib } from '../subprocess.js';

let lib: string;
beforeAll(async () => {
  lib = await compiledLib();
}, 120_000);
afterAll(removeCompiledLib);

describe('monotonicNs', () => {
  it('reads the same CLOCK_MONOTONIC as process.hrtime', () => {
    const a = process.hrtime.bigint();
    const m = monotonicNs();
    const b = process.hrtime.bigint();
    expect(typeof m).toBe('bigint');
    expect(m).toBeGreaterThanOrEqual(a);
    expect(m).toBeLessThanOrEqual(b);
  });
});

describe('sleepUntil', () => {
  it('wakes no earlier than the deadline and reports a lateness the outside clock agrees with', () => {
    const deadline = monotonicNs() + 5_000_000n;
    const late = sleepUntil(deadline);
    const after = process.hrtime.bigint();
    expect(after).toBeGreaterThanOrEqual(deadline);
    expect(late).toBeGreaterThanOrEqual(0);
    // The lateness was taken just before returning: never more than what hrtime saw after.
    expect(BigInt(late)).toBeLessThanOrEqual(after - deadline);
    expect(late).toBeLessThan(2_000_000_000); // generous: a loaded 2-CPU box
  });

  it('takes a number deadline and returns at once, with its lateness, for one already past', () => {
    const past = Number(monotonicNs()) - 50_000_000;
    const t0 = process.hrtime.bigint();
    const late = sleepUntil(past);
    expect(late).toBeGreaterThanOrEqual(50_000_000);
    expect(process.hrtime.bigint() - t0).toBeLessThan(1_000_000_000n);
  });

  it('rejects a negative, fractional or non-numeric deadline before any syscall', () => {
    for (const bad of [-1, 1.5, -1n, Number.NaN, '5' as unknown as number]) {
      let err: unknown;
      try {
        sleepUntil(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProcessError);
      expect((err as ProcessError).kind).toBe('InvalidCommand');
      expect((err as ProcessError).field).toBe('deadlineNs');
    }
  });

  it('is not cut short by signals arriving during the sleep (EINTR resumes)', async () => {
    const child = cp.spawn(
      process.execPath,
      [path.join(FIXTURES, 'rt-sleep-signal.mjs'), lib, '600'],
      { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 },
    );
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const timers: NodeJS.Timeout[] = [];
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.startsWith('sleeping') && timers.length === 0) {
        for (const ms of [50, 150, 250, 350]) {
          timers.push(setTimeout(() => child.kill('SIGUSR2'), ms));
        }
      }
    });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    for (const t of timers) clearTimeout(t);
    expect(err).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(out.split('\n')[1] ?? '{}') as { elapsedMs: number; lateNs: number };
    expect(result.elapsedMs).toBeGreaterThanOrEqual(599);
    expect(result.lateNs).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
