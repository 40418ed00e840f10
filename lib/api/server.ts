/**
 * serve(): the REST + WebSocket API over a Core, Prometheus metrics at /metrics, and the web
 * panel. Every call goes through the core's actions, so entitlements, the policy and the
 * audit trail apply unchanged. Loopback only by default, a bearer token on every API call,
 * /metrics and the WebSocket, CORS closed unless origins are listed, a body size limit, and
 * JSON errors with honest status codes.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Core } from '../core/core.js';
import { httpUrl } from '../daemon/addr.js';
import { describe } from '../errors.js';
import { newToken } from './auth.js';
import { remoteCall } from './call.js';
import { apiError, httpError } from './errors.js';
import { bridgeEvents } from './events-ws.js';
import { refuseBearer, refuseForeignHost } from './guard.js';
import { ProcessMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { loadPanel } from './panel.js';
import { ROUTES, type Route } from './routes.js';

export interface ServeOptions {
  core: Core;
  /** Default 127.0.0.1. Anything else is reachable from the network: keep the token secret. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Bearer token; generated when absent (read it from the result). */
  token?: string;
  /** Largest request body in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Origins allowed to call from a browser on another origin; default none (CORS closed). */
  corsOrigins?: string[];
  /** Serve the web panel at `/`; default true. */
  panel?: boolean;
  /** Bytes a WebSocket client may leave unread before it is dropped; default 1 MiB. */
  wsMaxBufferedBytes?: number;
  /** Serve https with this PEM key and certificate (what a remote core's drive entry verifies). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface ApiServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly token: string;
  /** The panel's address with the token in the fragment (never sent to the server). */
  readonly panelUrl: string;
  close(): Promise<void>;
}

const BASE = '/api/process';
/** Prometheus' default scrape path; behind the token like the API. */
const METRICS_PATH = '/metrics';

function version(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    return pkg.version;
  } catch {
    return '0.0.0';
  }
}

/**
 * Starts the API server.
 *
 * @example
 * const core = new Core({ name: 'app' });
 * core.use(processService());
 * await core.start();
 * const api = await serve({ core, port: 7070 });
 * console.log(`panel: ${api.panelUrl}`);
 * // curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7070/api/process/processes
 */
export async function serve(options: ServeOptions): Promise<ApiServer> {
  const { core } = options;
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? newToken();
  if (token.length < 16) throw new TypeError('serve: token must be at least 16 characters');
  const cors = new Set(options.corsOrigins ?? []);
  const app = Fastify({
    ...(options.tls === undefined
      ? {}
      : { https: { key: options.tls.key, cert: options.tls.cert } }),
    bodyLimit: options.bodyLimit ?? 1 << 20,
    logger: false,
    // close() must not wait for in-flight requests: a POST .../wait without a timeout lasts
    // as long as its child, and the child is only stopped after close() (core.stop()).
    forceCloseConnections: true,
    // A malformed or over-long path is answered by the router itself, in fastify's own body
    // shape unless this says otherwise: keep `{ error: { kind, message } }` there too.
    frameworkErrors: (err, _req, reply) => {
      (reply as FastifyReply)
        .code(err.statusCode ?? 400)
        .send(httpError('BadRequest', err.message));
    },
  });
  await app.register(websocket, { options: { maxPayload: 64 << 10 } });
  const context = { actor: { kind: 'user', id: 'api' }, surface: 'api' };

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const foreign = refuseForeignHost(req, reply, host);
    if (foreign) return foreign;
    const origin = req.headers.origin;
    if (origin !== undefined && cors.has(origin)) {
      reply.header('access-control-allow-origin', origin).header('vary', 'origin');
      if (req.method === 'OPTIONS') {
        return reply
          .header('access-control-allow-methods', 'GET, POST')
          .header('access-control-allow-headers', 'authorization, content-type')
          .code(204)
          .send();
      }
    }
    const url = new URL(req.url, 'http://localhost');
    const guarded = url.pathname.startsWith(BASE) || url.pathname === METRICS_PATH;
    if (!guarded || url.pathname === `${BASE}/openapi.json`) return;
    return refuseBearer(req, reply, url.searchParams, token);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply
        .code(413)
        .send(
          httpError(
            'PayloadTooLarge',
            `request body is larger than ${options.bodyLimit ?? 1 << 20} bytes`,
          ),
        );
    }
    if (status >= 400 && status < 500)
      return reply.code(status).send(httpError('BadRequest', err.message));
    return reply.code(500).send(httpError('Internal', err.message));
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send(
        httpError('NotFound', `no route ${req.method} ${new URL(req.url, 'http://x').pathname}`),
      ),
  );

  const handle = (route: Route) => async (req: FastifyRequest, reply: FastifyReply) => {
    const params = (req.params ?? {}) as Record<string, string>;
    if (params.code !== undefined && params.code !== core.name) {
      return reply
        .code(404)
        .send(
          httpError(
            'NotFound',
            `no daemons under code ${describe(params.code)} (this core is ${core.name})`,
          ),
        );
    }
    if (route.body !== undefined && req.body !== undefined && req.body !== null) {
      const parsed = route.body.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue?.path.join('.') || '(root)';
        return reply.code(400).send({
          error: {
            kind: 'InvalidInput',
            message: `invalid body at ${field}: ${issue?.message}`,
            field,
          },
        });
      }
    }
    const input = route.input(
      { params, body: req.body ?? {}, query: new URL(req.url, 'http://x').searchParams },
      core,
    );
    const r = await core.action(route.action).run(input, { context });
    if (!r.ok) {
      const { status, body } = apiError(r.error);
      return reply.code(status).send(body);
    }
    const out = route.output?.(r.value, core) ?? { body: r.value };
    return reply.code(out.status ?? route.status ?? 200).send(out.body ?? null);
  };
  for (const route of ROUTES) {
    app.route({ method: route.method, url: `${BASE}${route.path}`, handler: handle(route) });
  }
  app.post(`${BASE}/call`, remoteCall(core, context));
  app.get(`${BASE}/openapi.json`, async () => openApiDocument(core, version()));
  const metrics = new ProcessMetrics();
  const detachMetrics = metrics.attach(core.events);
  app.addHook('onClose', async () => detachMetrics());
  app.get(METRICS_PATH, async (_req, reply) => {
    const { contentType, body } = await metrics.exposition();
    return reply.type(contentType).send(body);
  });
  app.get(`${BASE}/events`, { websocket: true }, (socket, req) => {
    bridgeEvents(core, socket, new URL(req.url, 'http://x').searchParams, {
      maxBufferedBytes: options.wsMaxBufferedBytes ?? 1 << 20,
    });
  });

  if (options.panel !== false) {
    const files = loadPanel();
    for (const [path, file] of files) {
      app.get(path, async (_req, reply) =>
        reply
          .type(file.type)
          .header('cache-control', 'no-cache')
          .header('x-content-type-options', 'nosniff')
          .header(
            'content-security-policy',
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
          )
          .send(file.body),
      );
    }
  }

  try {
    await app.listen({ host, port: options.port ?? 0 });
  } catch (e) {
    await app.close(); // unsubscribes the metrics from the bus
    throw e;
  }
  const { port } = app.server.address() as AddressInfo;
  const url = httpUrl(host, port).replace(/^http:/, options.tls === undefined ? 'http:' : 'https:');
  return {
    url,
    port,
    token,
    panelUrl: `${url}/#token=${token}`,
    close: () => app.close(),
  };
}
