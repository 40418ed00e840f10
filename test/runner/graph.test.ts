// buildGraph, findCycles and gate: the pure checks and the start/wait/skip rule, without
// processes.
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../lib/runner/errors.js';
import { buildGraph, type DependencyState, findCycles, gate } from '../../lib/runner/graph.js';
import type { PipelineSpec } from '../../lib/runner/spec.js';
import { thrown } from '../helpers.js';

const spec = (name: string, after?: string[]): PipelineSpec =>
  after === undefined ? { name, command: 'true' } : { name, command: 'true', after };

describe('buildGraph', () => {
  it('good: resolves `after` to indices in the order listed, without repeats', () => {
    const g = buildGraph([spec('a'), spec('b'), spec('c', ['b', 'a', 'b'])], 'all');
    expect(g.names).toEqual(['a', 'b', 'c']);
    expect(g.deps).toEqual([[], [], [1, 0]]);
  });

  it('good: sequential chains each spec to the one before; parallel has no edges', () => {
    const specs = [spec('a', ['c']), spec('b'), spec('c')];
    expect(buildGraph(specs, 'sequential').deps).toEqual([[], [0], [1]]);
    expect(buildGraph(specs, 'parallel').deps).toEqual([[], [], []]);
  });

  it('bad: reports the problems of a stage together, shapes before names and references', () => {
    const e = thrown(PipelineError, () =>
      buildGraph(
        [
          spec('a'),
          spec('a'),
          spec('b', ['nope']),
          { name: 'c', command: 'true', after: 'a' as unknown as string[] },
        ],
        'all',
      ),
    );
    expect(e.message).toBe('pipeline: spec "c": after must be an array of spec names, got "a"');
    const e2 = thrown(PipelineError, () =>
      buildGraph([spec('a'), spec('a'), spec('b', ['nope'])], 'all'),
    );
    expect(e2.message).toBe(
      'pipeline: duplicate spec name "a" (specs[0] and specs[1]); spec "b" depends on unknown spec "nope"',
    );
    expect(e2.names).toEqual(['a', 'b']);
  });

  it('bad: a spec that is not an object is named by its position', () => {
    const e = thrown(PipelineError, () =>
      buildGraph([spec('a'), null as unknown as PipelineSpec], 'parallel'),
    );
    expect(e.message).toBe('pipeline: specs[1] is not an object: null');
    expect(e.names).toEqual(['specs[1]']);
  });

  it('bad: allowFailure must be a boolean', () => {
    const e = thrown(PipelineError, () =>
      buildGraph(
        [{ name: 'a', command: 'true', allowFailure: 'yes' as unknown as boolean }],
        'all',
      ),
    );
    expect(e.message).toBe('pipeline: spec "a": allowFailure must be a boolean, got "yes"');
  });

  it('ugly: a chain of 100000 specs is checked without overflowing the stack', () => {
    const specs = Array.from({ length: 100_000 }, (_, i) =>
      spec(`s${i}`, i === 0 ? undefined : [`s${i - 1}`]),
    );
    expect(buildGraph(specs, 'all').deps[99_999]).toEqual([99_998]);
  });
});

describe('findCycles', () => {
  it('good: an acyclic graph has none', () => {
    expect(findCycles(['a', 'b', 'c'], [[], [0], [0, 1]])).toEqual([]);
  });

  it('bad: names each distinct cycle once, starting at its earliest-declared member', () => {
    expect(findCycles(['x', 'a', 'b', 'c', 'd'], [[2], [2], [3], [1], []])).toEqual([
      ['a', 'b', 'c', 'a'],
    ]);
    expect(findCycles(['a', 'b', 'c', 'd'], [[1], [0], [3], [2]])).toEqual([
      ['a', 'b', 'a'],
      ['c', 'd', 'c'],
    ]);
  });
});

describe('gate', () => {
  const g = buildGraph([spec('a'), spec('b'), spec('c', ['a', 'b'])], 'all');
  const states =
    (m: Record<number, DependencyState>) =>
    (d: number): DependencyState =>
      m[d] ?? { state: 'unfinished' };

  it('good: ready once every dependency succeeded, waiting before', () => {
    expect(gate(g, 2, states({ 0: { state: 'succeeded' }, 1: { state: 'succeeded' } }))).toEqual({
      gate: 'ready',
    });
    expect(gate(g, 2, states({ 0: { state: 'succeeded' } }))).toEqual({ gate: 'waiting' });
  });

  it('bad: a blocking dependency skips at once, even while another is unfinished', () => {
    expect(gate(g, 2, states({ 1: { state: 'blocking', skipped: false, root: 'b' } }))).toEqual({
      gate: 'skip',
      reason: 'dependency b failed',
      root: 'b',
    });
    expect(gate(g, 2, states({ 0: { state: 'blocking', skipped: true, root: 'z' } }))).toEqual({
      gate: 'skip',
      reason: 'dependency a skipped (z failed)',
      root: 'z',
    });
  });

  it('ugly: in sequential mode the reason names the failure the chain began with', () => {
    const s = buildGraph([spec('a'), spec('b'), spec('c')], 'sequential');
    expect(gate(s, 2, () => ({ state: 'blocking', skipped: true, root: 'a' }))).toEqual({
      gate: 'skip',
      reason: 'an earlier spec failed: a',
      root: 'a',
    });
  });
});
