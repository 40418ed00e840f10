// runSequential: one spec at a time in declared order, stopping at the first failure unless
// that spec allows failure; checked from the trace and marker files the specs leave.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSequential } from '../../lib/runner/run.js';
import type { ProgressEvent } from '../../lib/runner/spec.js';
import { tempDir } from '../helpers.js';
import { lines, marking, maxOverlap, ran, rejection, traced } from './helpers.js';

describe('runSequential', () => {
  it('good: runs one spec at a time in declared order, whatever `after` and concurrency say', async () => {
    const dir = tempDir();
    const log = path.join(dir, 'trace');
    const result = await runSequential(
      [
        traced('first', log, { after: ['third'] }),
        traced('second', log, { after: ['not-a-spec'] }),
        traced('third', log),
      ],
      { concurrency: 3 },
    );
    const t = lines(log);
    expect(t).toEqual([
      'first-start',
      'first-end',
      'second-start',
      'second-end',
      'third-start',
      'third-end',
    ]);
    expect(maxOverlap(t)).toBe(1);
    expect(result).toMatchObject({ passed: 3, success: true });
  });

  it('bad: stops at the first failure; every later spec is skipped naming it and never runs', async () => {
    const dir = tempDir();
    const events: ProgressEvent[] = [];
    const result = await runSequential(
      [marking('a', dir), marking('b', dir, { code: 1 }), marking('c', dir), marking('d', dir)],
      { onProgress: (e) => events.push(e) },
    );
    expect(ran(dir, 'a')).toBe(true);
    expect(ran(dir, 'b')).toBe(true);
    expect(ran(dir, 'c')).toBe(false);
    expect(ran(dir, 'd')).toBe(false);
    expect(result.specs.map((s) => [s.name, s.status, s.error])).toEqual([
      ['a', 'passed', undefined],
      ['b', 'failed', undefined],
      ['c', 'skipped', 'an earlier spec failed: b'],
      ['d', 'skipped', 'an earlier spec failed: b'],
    ]);
    expect(result).toMatchObject({ passed: 1, failed: 1, skipped: 2, success: false });
    expect(events.filter((e) => e.type === 'skipped')).toHaveLength(2);
  });

  it('good: a failing spec with allowFailure does not stop the sequence', async () => {
    const dir = tempDir();
    const result = await runSequential([
      marking('a', dir, { code: 4, allowFailure: true }),
      marking('b', dir),
    ]);
    expect(ran(dir, 'b')).toBe(true);
    expect(result.specs[0]).toMatchObject({ status: 'failed', exitStatus: { code: 4 } });
    expect(result).toMatchObject({ passed: 1, failed: 1, skipped: 0, success: true });
  });

  it('bad: a spec that cannot be spawned stops the sequence like any failure', async () => {
    const dir = tempDir();
    const result = await runSequential([
      { name: 'ghost', command: 'no-such-program-for-runner-tests' },
      marking('b', dir),
    ]);
    expect(result.specs[0]?.error).toMatch(/ENOENT/);
    expect(result.specs[1]).toMatchObject({
      status: 'skipped',
      error: 'an earlier spec failed: ghost',
    });
    expect(ran(dir, 'b')).toBe(false);
  });

  it('ugly: duplicate names are still rejected though `after` is ignored', async () => {
    const e = await rejection(
      runSequential([
        { name: 'x', command: 'true' },
        { name: 'x', command: 'true' },
      ]),
    );
    expect(e.names).toEqual(['x']);
  });
});
