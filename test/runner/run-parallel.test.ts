// runParallel: everything at once (up to the concurrency cap), `after` ignored, and a failure
// skips nothing; checked from the trace and marker files the specs leave.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runParallel } from '../../lib/runner/run.js';
import { tempDir } from '../helpers.js';
import { lines, marking, maxOverlap, ran, rejection, traced } from './helpers.js';

describe('runParallel', () => {
  it('good: runs every spec at once', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'trace');
    const result = await runParallel(
      ['p1', 'p2', 'p3'].map((n) => traced(n, log, { seconds: 0.5 })),
      { concurrency: 3 },
    );
    expect(maxOverlap(lines(log))).toBe(3);
    expect(result).toMatchObject({ passed: 3, success: true });
  });

  it('bad: a failure skips nothing, `after` included, and makes the pipeline unsuccessful', async () => {
    const dir = tempDir();
    const result = await runParallel([
      marking('fails', dir, { code: 1 }),
      marking('after-fails', dir, { after: ['fails'] }),
      marking('other', dir),
    ]);
    expect(ran(dir, 'after-fails')).toBe(true);
    expect(ran(dir, 'other')).toBe(true);
    expect(result.specs.map((s) => s.status)).toEqual(['failed', 'passed', 'passed']);
    expect(result).toMatchObject({ passed: 2, failed: 1, skipped: 0, success: false });
  });

  it('ugly: the concurrency cap still holds', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'trace');
    await runParallel(
      ['q1', 'q2', 'q3', 'q4'].map((n) => traced(n, log, { seconds: 0.3 })),
      { concurrency: 1 },
    );
    expect(maxOverlap(lines(log))).toBe(1);
    expect(lines(log)).toHaveLength(8);
  });

  it('bad: a maxOutput that is not a byte count is rejected naming the value', async () => {
    const e = await rejection(runParallel([{ name: 'a', command: 'true' }], { maxOutput: -1 }));
    expect(e.message).toBe(
      'pipeline: invalid maxOutput: -1 must be an integer number of bytes >= 0',
    );
  });
});
