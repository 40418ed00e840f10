import cp from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ID } from '../../lib/core/id.js';
import { ROOT } from '../subprocess.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// The 48-bit big-endian Unix-ms timestamp at the front of a UUIDv7 (RFC 9562 §5.7).
const msOf = (id: string) => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('core.ID()', () => {
  it('good: a UUIDv7 whose timestamp is the wall clock, in creation order', () => {
    const before = Date.now();
    const ids = Array.from({ length: 1000 }, ID);
    const after = Date.now();
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    expect(msOf(ids[0] as string)).toBeGreaterThanOrEqual(before);
    expect(msOf(ids.at(-1) as string)).toBeLessThanOrEqual(after);
  });

  it('good: ids made by another process (a restart) never repeat ours', () => {
    // A second Node process, as a restarted core would be: the old proc-<n> counter started
    // at 1 again there and named a different process with the same id.
    const script =
      "import('uuid').then(({ v7 }) => console.log(Array.from({ length: 500 }, () => v7()).join('\\n')))";
    const theirs = cp.execFileSync(process.execPath, ['-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const other = theirs.trim().split('\n');
    const ours = Array.from({ length: 500 }, ID);
    expect(other).toHaveLength(500);
    expect(new Set([...ours, ...other]).size).toBe(1000);
  });
});
