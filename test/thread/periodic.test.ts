// periodic(): deadlines stay on the grid, and a tick allocates nothing. The allocation claim
// is measured from outside the loop: V8's own GC notifications in a child with a 1 MiB young
// generation, against a bigint loop that does allocate (so the count can move).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessError } from '../../lib/errors.js';
import { monotonicNs } from '../../lib/thread/clock.js';
import { periodic } from '../../lib/thread/periodic.js';
import { childEnv, compiledLib, removeCompiledLib, runNode } from '../subprocess.js';

let lib: string;
beforeAll(async () => {
  lib = await compiledLib();
}, 120_000);
afterAll(removeCompiledLib);

describe('periodic', () => {
  it('keeps deadlines on start + k * interval and sleeps at least that long', () => {
    const start = monotonicNs() + 1_000_000n;
    const p = periodic(1_000_000n, { startNs: start });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) expect(p.wait()).toBeGreaterThanOrEqual(0);
    expect(p.ticks).toBe(20);
    expect(p.deadlineNs).toBe(start + 20n * 1_000_000n);
    // The 20th deadline is start + 19 ms: hrtime must have passed it.
    expect(process.hrtime.bigint()).toBeGreaterThanOrEqual(start + 19n * 1_000_000n);
    expect(process.hrtime.bigint() - t0).toBeGreaterThanOrEqual(19_000_000n);
  });

  it('with skipMissed, a late wake-up skips the deadlines already past instead of bunching', () => {
    const start = monotonicNs() - 10_500_000n; // 10.5 intervals late at the first wait
    const bunch = periodic(1_000_000n, { startNs: start });
    const skip = periodic(1_000_000n, { startNs: start, skipMissed: true });
    expect(bunch.wait()).toBeGreaterThanOrEqual(10_500_000);
    expect(bunch.wait()).toBeGreaterThanOrEqual(9_500_000); // the next one is due already
    expect(skip.wait()).toBeGreaterThanOrEqual(10_500_000);
    expect(skip.missed).toBeGreaterThanOrEqual(10);
    // Near now, not 10 intervals back (a generous bound: a loaded machine may deschedule us).
    expect(skip.deadlineNs).toBeGreaterThan(monotonicNs() - 1_000_000_000n);
    expect(skip.wait()).toBeLessThan(1_000_000_000); // a real sleep to the next grid point
    expect((skip.deadlineNs - start) % 1_000_000n).toBe(0n); // still on the grid
  });

  it('rejects an interval below 1 µs or not an integer, naming it', () => {
    for (const bad of [0, 999, 1.5, -5n]) {
      let err: unknown;
      try {
        periodic(bad);
      } catch (e) {
        err = e;
      }
      expect((err as ProcessError).kind).toBe('InvalidCommand');
      expect((err as ProcessError).field).toBe('intervalNs');
    }
  });

  it('runs 200 000 ticks without a scavenge, where the bigint loop needs several', async () => {
    const flags = { nodeFlags: ['--max-semi-space-size=1'], timeoutMs: 60_000 };
    const run = async (mode: string) => {
      const r = await runNode('rt-periodic-gc.mjs', [lib, mode, '200000'], childEnv(), flags);
      expect(r.stderr).toBe('');
      return JSON.parse(r.stdout) as { minor: number; ticks: number };
    };
    const control = await run('bigint');
    const tick = await run('periodic');
    expect(control.minor).toBeGreaterThan(0);
    expect(tick.minor).toBe(0);
  }, 120_000);
});
