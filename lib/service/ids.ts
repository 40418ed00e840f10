/**
 * The one place service ids come from: `<prefix>-<UUIDv7>` (core.ID() behind the kind), unique
 * across processes and restarts, so a stale id can never name a newer process.
 */
import { prefixedID } from '../core/id.js';

/**
 * @example
 * nextId('proc'); // 'proc-019af5c2-7c1e-7b3a-9f4e-1d2c3b4a5968'
 */
export function nextId(prefix: string): string {
  return prefixedID(prefix);
}
