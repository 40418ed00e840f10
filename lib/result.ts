/**
 * Result: success or failure as a value, the shape the platform's capability contracts
 * return instead of throwing. A leaf module: the capability object (lib/thread) and the
 * Core container (lib/core) both use it.
 */
export type Result<T = unknown, E extends Error = Error> =
  | { ok: true; value: T }
  | { ok: false; error: E };

/**
 * @example
 * const r: Result<number> = ok(42); // { ok: true, value: 42 }
 */
export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

/**
 * @example
 * const r: Result<number> = fail(new Error('nope')); // { ok: false, error }
 */
export function fail<E extends Error>(error: E): { ok: false; error: E } {
  return { ok: false, error };
}
