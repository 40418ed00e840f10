/**
 * The pipeline as a graph: every check that can be made before a process starts, and the
 * rule that decides, from what has finished so far, whether a spec may start, must wait or
 * is skipped. Pure: no processes, no clocks.
 */
// describe() is the process layer's value printer: it survives bigints and cycles.
import { describe } from '../errors.js';
import { PipelineError } from './errors.js';
import type { PipelineSpec } from './spec.js';

/**
 * How dependencies are read: 'all' follows each spec's `after`; 'sequential' makes every spec
 * wait for the one declared before it; 'parallel' has none.
 */
export type PipelineMode = 'all' | 'sequential' | 'parallel';

export interface PipelineGraph {
  readonly mode: PipelineMode;
  /** Spec names in declared order. */
  readonly names: readonly string[];
  /** deps[i]: indices spec i waits for, in the order its `after` lists them, without repeats. */
  readonly deps: readonly (readonly number[])[];
}

/** What a finished (or unfinished) spec means to the specs that wait for it. */
export type DependencyState =
  | { state: 'unfinished' }
  /** Passed, or failed with allowFailure: dependents may go ahead. */
  | { state: 'succeeded' }
  /** Failed without allowFailure, or was skipped; `root` is the failed spec it all began with. */
  | { state: 'blocking'; skipped: boolean; root: string };

export type Gate =
  | { gate: 'ready' }
  | { gate: 'waiting' }
  /** `root`: the failed spec the skip goes back to, for the reasons of this spec's own dependents. */
  | { gate: 'skip'; reason: string; root: string };

function label(spec: unknown, index: number): string {
  const name = (spec as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name.length > 0 ? name : `specs[${index}]`;
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

class Problems {
  readonly messages: string[] = [];
  readonly names = new Set<string>();

  add(message: string, ...names: string[]): void {
    this.messages.push(message);
    for (const n of names) this.names.add(n);
  }

  throwIfAny(): void {
    if (this.messages.length === 0) return;
    throw new PipelineError(`pipeline: ${this.messages.join('; ')}`, [...this.names]);
  }
}

// The shape of each spec, alone: the fields the runner itself reads. Spawn options (args,
// timeout, cwd...) are the spawn layer's to check, when the spec starts.
function checkShape(specs: readonly unknown[], problems: Problems): void {
  specs.forEach((spec, i) => {
    if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
      problems.add(`specs[${i}] is not an object: ${describe(spec)}`, `specs[${i}]`);
      return;
    }
    const s = spec as Record<string, unknown>;
    const who = label(s, i);
    if (typeof s.name !== 'string' || s.name.length === 0) {
      problems.add(`specs[${i}] has no name (got ${describe(s.name)})`, who);
    }
    if (typeof s.command !== 'string' || s.command.length === 0) {
      problems.add(`spec "${who}" has no command (got ${describe(s.command)})`, who);
    }
    if (s.after !== undefined && !isStringArray(s.after)) {
      problems.add(
        `spec "${who}": after must be an array of spec names, got ${describe(s.after)}`,
        who,
      );
    }
    if (s.allowFailure !== undefined && typeof s.allowFailure !== 'boolean') {
      problems.add(
        `spec "${who}": allowFailure must be a boolean, got ${describe(s.allowFailure)}`,
        who,
      );
    }
  });
}

function indexNames(specs: readonly PipelineSpec[], problems: Problems): Map<string, number> {
  const byName = new Map<string, number>();
  specs.forEach((spec, i) => {
    const first = byName.get(spec.name);
    if (first === undefined) byName.set(spec.name, i);
    else
      problems.add(
        `duplicate spec name "${spec.name}" (specs[${first}] and specs[${i}])`,
        spec.name,
      );
  });
  return byName;
}

function resolveAfter(
  specs: readonly PipelineSpec[],
  byName: ReadonlyMap<string, number>,
  problems: Problems,
): number[][] {
  return specs.map((spec) => {
    const deps: number[] = [];
    for (const dep of spec.after ?? []) {
      const j = byName.get(dep);
      if (j === undefined) {
        problems.add(`spec "${spec.name}" depends on unknown spec "${dep}"`, spec.name);
      } else if (dep === spec.name) {
        problems.add(`spec "${spec.name}" depends on itself`, spec.name);
      } else if (!deps.includes(j)) {
        deps.push(j);
      }
    }
    return deps;
  });
}

/**
 * Every dependency cycle, each as the path of names it follows (an arrow reads "waits for"),
 * starting and ending at its earliest-declared member. buildGraph reports self-dependencies
 * on their own and leaves them out of `deps`.
 * @example
 * findCycles(['a', 'b', 'c'], [[1], [2], [0]]); // [['a', 'b', 'c', 'a']]
 */
export function findCycles(
  names: readonly string[],
  deps: readonly (readonly number[])[],
): string[][] {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const colour = new Array<number>(names.length).fill(WHITE);
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const stack: number[] = [];

  // Iterative DFS: a pipeline of thousands of specs chained by `after` must not overflow
  // the JS stack.
  for (let root = 0; root < names.length; root++) {
    if (colour[root] !== WHITE) continue;
    const frames: Array<{ node: number; next: number }> = [{ node: root, next: 0 }];
    colour[root] = GREY;
    stack.push(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { node: number; next: number };
      const edges = deps[frame.node] ?? [];
      if (frame.next >= edges.length) {
        colour[frame.node] = BLACK;
        stack.pop();
        frames.pop();
        continue;
      }
      const to = edges[frame.next++] as number;
      if (colour[to] === WHITE) {
        colour[to] = GREY;
        stack.push(to);
        frames.push({ node: to, next: 0 });
      } else if (colour[to] === GREY) {
        const members = stack.slice(stack.indexOf(to));
        // Rotated to start at its earliest-declared member, so one cycle reads the same
        // whichever spec the search happened to enter it from.
        const first = members.indexOf(Math.min(...members));
        const rotated = [...members.slice(first), ...members.slice(0, first)];
        const path = [...rotated, rotated[0] as number].map((n) => names[n] as string);
        const key = path.join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(path);
        }
      }
    }
  }
  return cycles;
}

/**
 * Checks a pipeline as a whole and returns its dependency graph, or throws PipelineError
 * naming every offending spec: not an object, empty or duplicate name, no command, a
 * malformed `after` or `allowFailure`, and in 'all' mode unknown dependencies,
 * self-dependencies and cycles (`pipeline: dependency cycle a -> b -> c -> a`).
 * 'sequential' and 'parallel' ignore what `after` names.
 * @example
 * const g = buildGraph([{ name: 'a', command: 'true' }, { name: 'b', command: 'true', after: ['a'] }], 'all');
 * g.deps; // [[], [0]]
 */
export function buildGraph(specs: readonly PipelineSpec[], mode: PipelineMode): PipelineGraph {
  if (!Array.isArray(specs)) {
    throw new PipelineError(`pipeline: specs must be an array of specs, got ${typeof specs}`, []);
  }
  const problems = new Problems();
  checkShape(specs, problems);
  problems.throwIfAny();

  const byName = indexNames(specs, problems);
  const names = specs.map((s) => s.name);
  let deps: number[][];
  if (mode === 'all') {
    deps = resolveAfter(specs, byName, problems);
  } else if (mode === 'sequential') {
    deps = specs.map((_, i) => (i === 0 ? [] : [i - 1]));
  } else {
    deps = specs.map(() => []);
  }
  problems.throwIfAny();

  for (const cycle of findCycles(names, deps)) {
    problems.add(`dependency cycle ${cycle.join(' -> ')}`, ...cycle);
  }
  problems.throwIfAny();
  return { mode, names, deps };
}

/**
 * Whether spec `index` may start now, must wait, or is skipped, given the state of the specs
 * it waits for. A blocking dependency wins over an unfinished one, so dependents of a failure
 * are skipped at once rather than after their other dependencies finish.
 * @example
 * gate(graph, 1, (d) => ({ state: 'blocking', skipped: false, root: 'a' }));
 * // { gate: 'skip', reason: 'dependency a failed', root: 'a' }
 */
export function gate(
  graph: PipelineGraph,
  index: number,
  stateOf: (dep: number) => DependencyState,
): Gate {
  let waiting = false;
  for (const dep of graph.deps[index] ?? []) {
    const s = stateOf(dep);
    if (s.state === 'blocking') {
      return { gate: 'skip', reason: skipReason(graph, dep, s), root: s.root };
    }
    if (s.state === 'unfinished') waiting = true;
  }
  return waiting ? { gate: 'waiting' } : { gate: 'ready' };
}

function skipReason(
  graph: PipelineGraph,
  dep: number,
  s: { skipped: boolean; root: string },
): string {
  if (graph.mode === 'sequential') return `an earlier spec failed: ${s.root}`;
  const name = graph.names[dep] as string;
  return s.skipped ? `dependency ${name} skipped (${s.root} failed)` : `dependency ${name} failed`;
}
