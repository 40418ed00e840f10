/**
 * The two checks every HTTP server of ours makes before a handler runs, as Fastify replies:
 * a Host that names this machine when bound to loopback (DNS rebinding), and the bearer
 * token with RFC 6750 answers. Shared by the API server and the standalone metrics server.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { describe } from '../errors.js';
import { bearerRefusal, hostAllowed } from './auth.js';
import { httpError } from './errors.js';

/**
 * Sends 403 when the Host header does not name this server; undefined when it does.
 *
 * @example
 * app.addHook('onRequest', async (req, reply) => refuseForeignHost(req, reply, '127.0.0.1'));
 */
export function refuseForeignHost(
  req: FastifyRequest,
  reply: FastifyReply,
  boundHost: string,
): FastifyReply | undefined {
  if (hostAllowed(req.headers.host, boundHost)) return undefined;
  return reply
    .code(403)
    .send(httpError('Forbidden', `Host ${describe(req.headers.host ?? '')} is not this server`));
}

/**
 * Sends 401 (no or wrong token) or 400 (malformed) with its `WWW-Authenticate` challenge;
 * undefined when the token is right.
 *
 * @example
 * const url = new URL(req.url, 'http://localhost');
 * return refuseBearer(req, reply, url.searchParams, token);
 */
export function refuseBearer(
  req: FastifyRequest,
  reply: FastifyReply,
  query: URLSearchParams,
  token: string,
): FastifyReply | undefined {
  const refusal = bearerRefusal(req.headers.authorization, query, token);
  if (refusal === null) return undefined;
  return reply
    .code(refusal.status)
    .header('www-authenticate', refusal.challenge)
    .send(httpError(refusal.kind, refusal.message));
}
