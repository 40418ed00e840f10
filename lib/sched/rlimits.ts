/**
 * Resource limits: validating `rlimits` for spawn, and reading or changing them on a running
 * process (the programmatic `prlimit`).
 */

import { describe, invalid } from '../errors.js';
import type { NativeRlimit } from '../native.js';
import { native } from '../native.js';
import { isSchedError, schedFailure } from './errors.js';
import { checkId, describeTarget } from './target.js';

/** The limits `prlimit(1)` knows, by their lower-case names (RLIMIT_NOFILE -> 'nofile'). */
export type RlimitName = NativeRlimit;

/**
 * A number (or 'unlimited' / Infinity) sets soft and hard alike; `{ soft, hard }` sets each.
 * Sizes are in bytes, `cpu` in seconds, `rttime` in microseconds.
 */
export type RlimitValue =
  | number
  | 'unlimited'
  | { soft: number | 'unlimited'; hard: number | 'unlimited' };

export type Rlimits = Partial<Record<RlimitName, RlimitValue>>;

export interface RlimitPair {
  /** Infinity when unlimited. */
  soft: number;
  hard: number;
}

/** Every limit name, in prlimit(1)'s order. */
export const RLIMIT_NAMES: readonly RlimitName[] = [
  'nofile',
  'nproc',
  'core',
  'cpu',
  'as',
  'data',
  'fsize',
  'memlock',
  'rtprio',
  'stack',
  'nice',
  'rttime',
  'msgqueue',
  'sigpending',
  'locks',
  'rss',
];

function checkName(field: string, name: unknown): RlimitName {
  if (!RLIMIT_NAMES.includes(name as RlimitName)) {
    throw invalid(field, name, `is not a resource limit (known: ${RLIMIT_NAMES.join(', ')})`);
  }
  return name as RlimitName;
}

/** -1 stands for unlimited at the binding. */
function one(field: string, v: unknown): number {
  if (v === 'unlimited' || v === Number.POSITIVE_INFINITY) return -1;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalid(field, v, "must be an integer >= 0, Infinity or 'unlimited'");
  }
  return v;
}

function pair(field: string, v: unknown): [number, number] {
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const soft = one(`${field}.soft`, o.soft);
    const hard = one(`${field}.hard`, o.hard);
    if (hard !== -1 && (soft === -1 || soft > hard)) {
      throw invalid(field, v, 'has a soft limit above its hard limit');
    }
    return [soft, hard];
  }
  const both = one(field, v);
  return [both, both];
}

/** Validates the `rlimits` spawn option into the binding's [name, soft, hard] tuples. */
export function checkRlimits(field: string, rlimits: unknown): Array<[RlimitName, number, number]> {
  if (rlimits === null || typeof rlimits !== 'object' || Array.isArray(rlimits)) {
    throw invalid(
      field,
      rlimits,
      'must be an object such as { nofile: 1024, core: { soft: 0, hard: 0 } }',
    );
  }
  const out: Array<[RlimitName, number, number]> = [];
  for (const [key, value] of Object.entries(rlimits)) {
    if (value === undefined) continue;
    const name = checkName(`${field} key`, key);
    out.push([name, ...pair(`${field}.${key}`, value)]);
  }
  return out;
}

const fromNative = (v: number): number => (v < 0 ? Number.POSITIVE_INFINITY : v);

/**
 * A resource limit of a process (no id: this one).
 * @example
 * getRlimit(child.pid, 'nofile'); // { soft: 1024, hard: 4096 }
 */
export function getRlimit(id: number | undefined, name: RlimitName): RlimitPair {
  const target = checkId('id', id);
  const resource = checkName('name', name);
  const r = native.getRlimit(target, resource);
  if (isSchedError(r)) throw schedFailure('getRlimit', describeTarget(target), r);
  return { soft: fromNative(r[0]), hard: fromNative(r[1]) };
}

/**
 * Changes a resource limit of a running process (`prlimit --pid`). Raising a hard limit
 * needs CAP_SYS_RESOURCE.
 * @example
 * setRlimit(child.pid, 'core', 0); // prlimit --pid <pid> --core=0
 */
export function setRlimit(id: number, name: RlimitName, value: RlimitValue): void {
  const target = checkId('id', id);
  const resource = checkName('name', name);
  const [soft, hard] = pair(`rlimit ${resource}`, value);
  const r = native.setRlimit(target, resource, soft, hard);
  if (r !== 0)
    throw schedFailure(
      'setRlimit',
      `${describeTarget(target)} (${resource} ${describe(value)})`,
      r,
    );
}
