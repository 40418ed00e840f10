/**
 * Result helpers for the Core container. The type and its two constructors live in
 * lib/result.ts (a leaf shared with lib/thread); these helpers are what action and task code
 * reaches for when turning promises and thrown values into Results.
 */
import { fail, ok, type Result } from '../result.js';
import { toError } from './errors.js';

export { fail, ok, type Result };

/**
 * @example
 * const r = await core.process().run('git', 'status');
 * if (isOk(r)) console.log(r.value);
 */
export function isOk<T, E extends Error>(r: Result<T, E>): r is { ok: true; value: T } {
  return r.ok;
}

/**
 * @example
 * if (isFail(r)) console.error(r.error.message);
 */
export function isFail<T, E extends Error>(r: Result<T, E>): r is { ok: false; error: E } {
  return !r.ok;
}

/**
 * Returns the value or throws the error: for call sites (tests, scripts) where a failure
 * should end the program rather than be handled.
 *
 * @example
 * const stdout = unwrap(await core.process().run('uname', '-s'));
 */
export function unwrap<T, E extends Error>(r: Result<T, E>): T {
  if (r.ok) return r.value;
  throw r.error;
}

/**
 * @example
 * const port = valueOr(await core.action('config.port').run({}), 8080);
 */
export function valueOr<T, E extends Error>(r: Result<T, E>, fallback: T): T {
  return r.ok ? r.value : fallback;
}

/**
 * Runs `fn` and captures a throw or a rejection as a failed Result: the boundary
 * primitive that keeps exceptions from crossing an action.
 *
 * @example
 * const r = await attempt(() => fetchJson(url)); // never rejects
 */
export async function attempt<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (e) {
    return fail(toError(e));
  }
}

/**
 * Tells a Result apart from any other value, for code that accepts either.
 *
 * @example
 * isResult({ ok: true, value: 1 }); // true
 * isResult({ ok: true });           // false
 */
export function isResult(value: unknown): value is Result<unknown> {
  if (typeof value !== 'object' || value === null || !('ok' in value)) return false;
  if (value.ok === true) return 'value' in value;
  return value.ok === false && 'error' in value && value.error instanceof Error;
}
