/**
 * Who may call the API: a bearer token compared in constant time, and a Host check so a
 * web page elsewhere cannot reach a loopback server through DNS rebinding.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A fresh random token (192 bits, URL-safe).
 *
 * @example
 * const token = newToken(); // 'q0n1...'
 */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Compares a presented token with the expected one in time independent of where they differ
 * (both are hashed first, so their lengths leak nothing either).
 *
 * @example
 * tokenMatches(req.headers.authorization?.slice(7), token);
 */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The bearer token of a request: `Authorization: Bearer <t>`, else `?token=` (browsers cannot
 * set headers on a WebSocket).
 *
 * @example
 * const t = presentedToken(req.headers.authorization, new URL(req.url, 'http://x').searchParams);
 */
export function presentedToken(
  authorization: string | undefined,
  query: URLSearchParams,
): string | undefined {
  if (authorization !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization);
    return m?.[1];
  }
  return query.get('token') ?? undefined;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * For a server bound to loopback: only Host names that mean this machine are accepted.
 *
 * @example
 * hostAllowed('127.0.0.1:8080', '127.0.0.1'); // true; hostAllowed('evil.example:8080', ...) false
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (hostHeader === undefined) return false;
  if (!LOOPBACK_NAMES.has(boundHost) && !boundHost.startsWith('127.')) return true;
  // The whole header must be `name` or `name:port`: a prefix match would let a rebinding
  // attacker's own names through (`127.0.0.1.evil.example`, `127.evil`, `[::1].evil`).
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::\d*)?$/.exec(hostHeader);
  const name = (m?.[1] ?? '').toLowerCase();
  return LOOPBACK_NAMES.has(name) || /^127(?:\.\d{1,3}){3}$/.test(name);
}
