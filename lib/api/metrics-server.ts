/**
 * serveMetrics(): a server with only `/metrics`, for a supervisor that has no API server
 * (`core-process supervise --metrics ADDR`). The same rules as the API: the Host check on
 * loopback, and the bearer token (RFC 6750 answers) whenever one is given; without a token
 * it listens on loopback only, since anyone who can connect could read it.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyReply } from 'fastify';
import { httpUrl } from '../daemon/addr.js';
import { describe } from '../errors.js';
import { isLoopbackHost } from './auth.js';
import { httpError } from './errors.js';
import { refuseBearer, refuseForeignHost } from './guard.js';
import type { ProcessMetrics } from './metrics.js';

export interface MetricsServerOptions {
  metrics: ProcessMetrics;
  /** Default 127.0.0.1. Another address needs `token`. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Bearer token the scraper must send (Prometheus: `authorization: { credentials: ... }`). */
  token?: string;
}

export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` until closed.
 *
 * @example
 * const metrics = new ProcessMetrics();
 * const server = await serveMetrics({ metrics, host: '127.0.0.1', port: 9464 });
 * // curl http://127.0.0.1:9464/metrics
 * await server.close();
 */
export async function serveMetrics(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const { token } = options;
  if (token !== undefined && token.length < 16) {
    throw new TypeError('serveMetrics: token must be at least 16 characters');
  }
  if (token === undefined && !isLoopbackHost(host)) {
    throw new TypeError(
      `serveMetrics: ${describe(host)} is not loopback; give a token to listen there`,
    );
  }
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.addHook('onRequest', async (req, reply: FastifyReply) => {
    const foreign = refuseForeignHost(req, reply, host);
    if (foreign || token === undefined) return foreign;
    return refuseBearer(req, reply, new URL(req.url, 'http://localhost').searchParams, token);
  });
  app.get('/metrics', async (_req, reply) => {
    const { contentType, body } = await options.metrics.exposition();
    return reply.type(contentType).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send(httpError('NotFound', `no route ${req.method} ${describe(req.url)}; try GET /metrics`)),
  );
  await app.listen({ host, port: options.port ?? 0 });
  const { port } = app.server.address() as AddressInfo;
  return { url: `${httpUrl(host, port)}/metrics`, port, close: () => app.close() };
}
