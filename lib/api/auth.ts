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

/** Why a request may not call: the status, the `WWW-Authenticate` challenge and the body. */
export interface BearerRefusal {
  status: 400 | 401;
  /** The whole `WWW-Authenticate` value (RFC 6750 §3). */
  challenge: string;
  kind: 'Unauthorized' | 'BadRequest';
  message: string;
}

/**
 * Checks a request's bearer token (`Authorization: Bearer <t>`, else `?token=`, since browsers
 * cannot set headers on a WebSocket) against the expected one and says how to refuse it, as
 * RFC 6750 §3.1 asks: no token (or another scheme) is 401 with a bare `Bearer` challenge, a
 * wrong token is 401 `invalid_token`, a malformed or doubled one is 400 `invalid_request`.
 * 403 is left for a valid token without the right (policy, entitlement). Null: let it in.
 *
 * @example
 * const refusal = bearerRefusal(req.headers.authorization, url.searchParams, token);
 * if (refusal) reply.code(refusal.status).header('www-authenticate', refusal.challenge);
 */
export function bearerRefusal(
  authorization: string | undefined,
  query: URLSearchParams,
  expected: string,
): BearerRefusal | null {
  const inQuery = query.getAll('token');
  let presented: string;
  if (authorization !== undefined) {
    const m = /^(\S+)(?:\s+(.*))?$/s.exec(authorization.trim());
    // Another scheme (Basic, Digest) is no bearer attempt at all: only the bare challenge, and
    // no fallback to ?token= either.
    if (m === null || m[1]?.toLowerCase() !== 'bearer') {
      return missing('a bearer token is required (the Authorization header has another scheme)');
    }
    const credentials = m[2]?.trim() ?? '';
    if (credentials === '' || /\s/.test(credentials)) {
      return malformed('the Authorization header is not "Bearer <token>"');
    }
    if (inQuery.length > 0) {
      return malformed('the token is given twice (Authorization header and ?token=); give one');
    }
    presented = credentials;
  } else {
    if (inQuery.length === 0) return missing('a bearer token is required');
    if (inQuery.length > 1) return malformed('?token= is given more than once');
    presented = inQuery[0] as string;
    if (presented === '') return malformed('?token= is empty');
  }
  if (tokenMatches(presented, expected)) return null;
  return {
    status: 401,
    challenge: 'Bearer error="invalid_token"',
    kind: 'Unauthorized',
    message: 'the bearer token is not valid',
  };
}

function missing(message: string): BearerRefusal {
  return { status: 401, challenge: 'Bearer', kind: 'Unauthorized', message };
}

function malformed(message: string): BearerRefusal {
  return { status: 400, challenge: 'Bearer error="invalid_request"', kind: 'BadRequest', message };
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * Whether a listen address is this machine only (127.0.0.0/8, ::1, localhost).
 *
 * @example
 * isLoopbackHost('127.0.0.1'); // true; isLoopbackHost('0.0.0.0') false
 */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || host.startsWith('127.');
}

/**
 * For a server bound to loopback: only Host names that mean this machine are accepted.
 *
 * @example
 * hostAllowed('127.0.0.1:8080', '127.0.0.1'); // true; hostAllowed('evil.example:8080', ...) false
 */
export function hostAllowed(hostHeader: string | undefined, boundHost: string): boolean {
  if (hostHeader === undefined) return false;
  if (!isLoopbackHost(boundHost)) return true;
  // The whole header must be `name` or `name:port`: a prefix match would let a rebinding
  // attacker's own names through (`127.0.0.1.evil.example`, `127.evil`, `[::1].evil`).
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::\d*)?$/.exec(hostHeader);
  const name = (m?.[1] ?? '').toLowerCase();
  return LOOPBACK_NAMES.has(name) || /^127(?:\.\d{1,3}){3}$/.test(name);
}
