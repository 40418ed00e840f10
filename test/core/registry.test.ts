// Registry: named, ordered, glob-listable, lockable.
import { describe, expect, it } from 'vitest';
import { CoreError, Registry } from '../../lib/core/index.js';

function filled(): Registry<number> {
  return new Registry<number>('things')
    .set('process.run', 1)
    .set('process.start', 2)
    .set('my.thing', 3);
}

describe('Registry.set/get/has/delete', () => {
  it('good: stores, finds and removes by name', () => {
    const r = filled();
    expect(r.get('process.start')).toBe(2);
    expect(r.has('my.thing')).toBe(true);
    expect(r.delete('my.thing')).toBe(true);
    expect(r.has('my.thing')).toBe(false);
    expect(r.size).toBe(2);
  });

  it('bad: a duplicate name is refused unless replace is asked', () => {
    const r = filled();
    expect(() => r.set('process.run', 9)).toThrow(/'process.run' is already registered/);
    r.set('process.run', 9, { replace: true });
    expect(r.get('process.run')).toBe(9);
  });

  it('ugly: absent names answer undefined/false, and an empty name is refused', () => {
    const r = filled();
    expect(r.get('nope')).toBeUndefined();
    expect(r.delete('nope')).toBe(false);
    expect(() => r.set('', 1)).toThrow(CoreError);
  });
});

describe('Registry.names/list/each', () => {
  it('good: keeps registration order and filters by dotted glob', () => {
    const r = filled();
    expect(r.names()).toEqual(['process.run', 'process.start', 'my.thing']);
    expect(r.names('process.*')).toEqual(['process.run', 'process.start']);
    expect(r.list('process.*')).toEqual([1, 2]);
    const seen: string[] = [];
    r.each((name, v) => seen.push(`${name}=${v}`));
    expect(seen).toEqual(['process.run=1', 'process.start=2', 'my.thing=3']);
  });

  it('bad: a glob that matches nothing gives an empty list', () => {
    expect(filled().names('thread.*')).toEqual([]);
  });

  it('ugly: * is one segment, ** is any depth, and each() iterates a snapshot', () => {
    const r = filled().set('process.output.chunk', 4);
    expect(r.names('process.*')).not.toContain('process.output.chunk');
    expect(r.names('process.**')).toContain('process.output.chunk');
    r.each((name) => {
      r.delete(name);
      r.set(`${name}.copy`, 0);
    });
    expect(r.names()).toEqual([
      'process.run.copy',
      'process.start.copy',
      'my.thing.copy',
      'process.output.chunk.copy',
    ]);
  });
});

describe('Registry.lock', () => {
  it('good: reads keep working after lock', () => {
    const r = filled().lock();
    expect(r.locked).toBe(true);
    expect(r.get('process.run')).toBe(1);
  });

  it('bad: a locked registry refuses set and delete with a clear error', () => {
    const r = filled().lock();
    let err: unknown;
    try {
      r.set('late', 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CoreError);
    expect(err).toMatchObject({ kind: 'Locked', registry: 'things', entry: 'late' });
    expect((err as Error).message).toBe("things.set: 'late' refused, registry is locked");
    expect(() => r.delete('process.run')).toThrow(/things.delete: 'process.run' refused/);
    expect(r.size).toBe(3);
  });

  it('ugly: locking twice is harmless and there is no unlock', () => {
    const r = filled().lock().lock();
    expect(r.locked).toBe(true);
    expect(() => r.set('x', 1, { replace: true })).toThrow(/locked/);
  });
});
