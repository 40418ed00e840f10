/**
 * Unknown option keys: a typo in a security option (`sandbx`, `limts`) must not run the child
 * unconfined without a word, so every options object is checked against the keys its type
 * declares, and the error names the key and the known one it most likely meant.
 */
import { describe, ProcessError } from '../errors.js';

/**
 * Levenshtein distance between two short strings (option names): insertions, deletions and
 * substitutions each cost 1.
 *
 * @example
 * editDistance('sandbx', 'sandbox'); // 1
 */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(
        Math.min(
          (prev[j] as number) + 1,
          (row[j - 1] as number) + 1,
          (prev[j - 1] as number) + cost,
        ),
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * The known name nearest to `key`, or undefined when none is close enough to be a typo
 * (more than a third of the longer name would have to change, and no known name starts with
 * it). Case is ignored.
 *
 * @example
 * nearestKey('limts', ['limits', 'nice']); // 'limits'
 */
export function nearestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  if (bestDistance <= Math.max(2, Math.ceil(Math.max(key.length, best.length) / 3))) return best;
  // A shortened name (memory for memoryBytes) is a typo too, though many edits away.
  const lower = key.toLowerCase();
  if (lower.length < 3) return undefined;
  for (const k of known) if (k.toLowerCase().startsWith(lower)) return k;
  return undefined;
}

/**
 * Throws InvalidCommand for the first own key of `options` that is not in `known`, naming it
 * (as `<where>.<key>`, or the bare key at the top level) and the nearest known key. A key
 * whose value is undefined counts too: a caller that spreads a typo'd key meant something.
 *
 * @example
 * checkKnownKeys({ program: 'sh', sandbx: {} }, SPAWN_KEYS, 'spawn option');
 * // ProcessError InvalidCommand: "invalid sandbx: {} is not a spawn option (did you mean 'sandbox'?)"
 */
export function checkKnownKeys(
  options: object,
  known: ReadonlySet<string>,
  what: string,
  where?: string,
): void {
  for (const key of Object.keys(options)) {
    if (known.has(key)) continue;
    const near = nearestKey(key, known);
    const field = where === undefined ? key : `${where}.${key}`;
    const hint =
      near === undefined
        ? `; known: ${[...known].join(', ')}`
        : ` (did you mean '${where === undefined ? near : `${where}.${near}`}'?)`;
    const value = (options as Record<string, unknown>)[key];
    throw new ProcessError(
      'InvalidCommand',
      `invalid ${field}: ${describe(value)} is not a ${what}${hint}`,
      { field, code: 'EINVAL' },
    );
  }
}
