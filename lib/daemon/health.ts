/**
 * The health endpoint of a daemon: GET /health runs the registered checks (concurrently, each
 * bounded in time, so one stuck dependency cannot hang the probe) and GET /ready reports the
 * readiness the daemon sets. Also `waitForHealth`, for whoever starts a daemon and must know
 * when it is up.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe } from '../errors.js';
import { httpUrl, parseListenAddr } from './addr.js';

/** A health check: throwing, rejecting or returning false means unhealthy. */
// biome-ignore lint/suspicious/noConfusingVoidType: void lets `async () => { await ping(); }` be a check.
export type HealthCheck = () => boolean | void | Promise<boolean | void>;

export interface HealthServerOptions {
  /** 'host:port' ('[::1]:8080' for IPv6); default '127.0.0.1:0' (a free port). */
  addr?: string;
  checks?: Record<string, HealthCheck>;
  /** Bound on each check; default 2000 ms. */
  checkTimeoutMs?: number;
}

export interface HealthCheckResult {
  name: string;
  ok: boolean;
  durationMs: number;
  error?: string;
}

export interface HealthReport {
  ok: boolean;
  checks: HealthCheckResult[];
}

export interface HealthAddress {
  host: string;
  port: number;
  url: string;
}

const DEFAULT_ADDR = '127.0.0.1:0';
const DEFAULT_CHECK_TIMEOUT_MS = 2000;

function describeError(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(
      `HealthServer: a check name must be a non-empty string, got ${String(name)}`,
    );
  }
  return name;
}

async function runOne(name: string, check: HealthCheck, timeoutMs: number) {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<{ ok: false; error: string }>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, error: `timed out after ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  // The async wrapper turns a synchronous throw into a rejection like any other failure.
  const verdict = (async () => check())().then(
    (v) => (v === false ? { ok: false, error: 'check returned false' } : { ok: true }),
    (e: unknown) => ({ ok: false, error: describeError(e) }),
  );
  try {
    const r: { ok: boolean; error?: string } = await Promise.race([verdict, timedOut]);
    const result: HealthCheckResult = {
      name,
      ok: r.ok,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    };
    if (r.error !== undefined) result.error = r.error;
    return result;
  } finally {
    clearTimeout(timer);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/**
 * An HTTP server with GET /health (200 `{"status":"ok"}` or 503 `{"status":"unhealthy"}`, with
 * each check's result) and GET /ready (200 or 503 after `setReady`). HEAD is answered like GET.
 * @example
 * const health = new HealthServer({ checks: { db: () => db.ping() } });
 * const { url } = await health.start(); // 'http://127.0.0.1:41234'
 * health.setReady(true);
 * // curl $url/health -> {"status":"ok","checks":[{"name":"db","ok":true,"durationMs":0.8}]}
 */
export class HealthServer {
  readonly #host: string;
  readonly #port: number;
  readonly #checkTimeoutMs: number;
  readonly #checks = new Map<string, HealthCheck>();
  #server: Server | null = null;
  #address: HealthAddress | null = null;
  #starting: Promise<HealthAddress> | null = null;
  #ready = false;

  constructor(options: HealthServerOptions = {}) {
    const { host, port } = parseListenAddr(options.addr ?? DEFAULT_ADDR, 'HealthServer');
    this.#host = host;
    this.#port = port;
    const timeout = options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new TypeError(`HealthServer: checkTimeoutMs must be a positive number, got ${timeout}`);
    }
    this.#checkTimeoutMs = timeout;
    for (const [name, check] of Object.entries(options.checks ?? {})) this.addCheck(name, check);
  }

  /** `http://host:port` while listening, else null. */
  get url(): string | null {
    return this.#address?.url ?? null;
  }

  /**
   * Starts listening; port 0 takes a free port, which the result reports. Calling it again
   * while listening returns the same address.
   * @example
   * const { port, url } = await new HealthServer({ addr: '127.0.0.1:0' }).start();
   */
  start(): Promise<HealthAddress> {
    if (this.#address !== null) return Promise.resolve(this.#address);
    this.#starting ??= new Promise<HealthAddress>((resolve, reject) => {
      const server = createServer((req, res) => this.#handle(req, res));
      const onError = (e: Error) => {
        this.#starting = null;
        reject(
          new Error(`HealthServer.start: cannot listen on ${this.#host}:${this.#port}`, {
            cause: e,
          }),
        );
      };
      server.once('error', onError);
      server.listen(this.#port, this.#host, () => {
        server.off('error', onError);
        const { address, port } = server.address() as AddressInfo;
        this.#server = server;
        this.#address = { host: address, port, url: httpUrl(address, port) };
        this.#starting = null;
        resolve(this.#address);
      });
    });
    return this.#starting;
  }

  /**
   * Stops listening and closes every connection, idle keep-alive ones included, so the
   * process is free to exit. Safe to call when not started.
   * @example
   * await health.stop();
   */
  async stop(): Promise<void> {
    if (this.#starting !== null) await this.#starting.catch(() => undefined);
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    this.#address = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /**
   * What GET /ready answers; false until set.
   * @example
   * await loadConfig();
   * health.setReady(true);
   */
  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  /**
   * Adds a check to GET /health. Names are unique: adding a name twice is an error.
   * @example
   * health.addCheck('disk', () => statfsSync('/').bavail > 1000);
   */
  addCheck(name: string, check: HealthCheck): void {
    checkName(name);
    if (typeof check !== 'function') {
      throw new TypeError(`HealthServer.addCheck ${name}: the check must be a function`);
    }
    if (this.#checks.has(name)) {
      throw new Error(`HealthServer.addCheck: a check named ${describe(name)} already exists`);
    }
    this.#checks.set(name, check);
  }

  /**
   * Runs every check concurrently, each bounded by `checkTimeoutMs`; what GET /health reports.
   * Never rejects: a failing check is a result. (A check that blocks the event loop
   * synchronously cannot be bounded.)
   * @example
   * const { ok, checks } = await health.runChecks();
   * for (const c of checks) if (!c.ok) console.error(c.name, c.error);
   */
  async runChecks(): Promise<HealthReport> {
    const checks = await Promise.all(
      [...this.#checks].map(([name, check]) => runOne(name, check, this.#checkTimeoutMs)),
    );
    return { ok: checks.every((c) => c.ok), checks };
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (pathname !== '/health' && pathname !== '/ready') {
      sendJson(res, 404, {
        error: { kind: 'NotFound', message: `no such endpoint: ${pathname}` },
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(
        res,
        405,
        {
          error: {
            kind: 'MethodNotAllowed',
            message: `${req.method} ${pathname}: only GET and HEAD are allowed`,
          },
        },
        { allow: 'GET, HEAD' },
      );
      return;
    }
    if (pathname === '/ready') {
      sendJson(res, this.#ready ? 200 : 503, { ready: this.#ready });
      return;
    }
    void this.runChecks().then(({ ok, checks }) => {
      if (res.destroyed) return;
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unhealthy', checks });
    });
  }
}

export interface WaitForHealthOptions {
  /** Overall bound; default 5000 ms. */
  timeout?: number;
  /** Pause between attempts; default 50 ms. */
  intervalMs?: number;
  /** Path to probe; default '/health' unless the url already has one. */
  path?: string;
}

function probeTarget(url: string, path: string | undefined): URL {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new TypeError(`waitForHealth: not a URL: ${describe(url)}`);
  }
  if (path !== undefined) target.pathname = path;
  else if (target.pathname === '/' || target.pathname === '') target.pathname = '/health';
  return target;
}

function fetchFailure(e: unknown): string {
  const cause = (e as { cause?: unknown } | null)?.cause;
  const why =
    cause instanceof Error ? `: ${(cause as NodeJS.ErrnoException).code ?? cause.message}` : '';
  return `${describeError(e)}${why}`;
}

/**
 * Polls a health endpoint until it answers 200. Rejects after `timeout` with an Error that
 * names the url, the timeout and the last status or connection error.
 * @example
 * const child = spawn({ program: 'my-daemon', args: ['--health', '127.0.0.1:9000'] });
 * await waitForHealth('http://127.0.0.1:9000', { timeout: 10_000 }); // probes /health
 */
export async function waitForHealth(
  url: string,
  options: WaitForHealthOptions = {},
): Promise<void> {
  const timeout = options.timeout ?? 5000;
  const intervalMs = options.intervalMs ?? 50;
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new TypeError(
      `waitForHealth ${url}: timeout must be a non-negative number, got ${timeout}`,
    );
  }
  if (!Number.isFinite(intervalMs) || intervalMs < 0) {
    throw new TypeError(
      `waitForHealth ${url}: intervalMs must be a non-negative number, got ${intervalMs}`,
    );
  }
  const target = probeTarget(url, options.path);
  const deadline = performance.now() + timeout;
  let last: string | null = null;
  for (;;) {
    const remaining = Math.ceil(deadline - performance.now());
    if (remaining <= 0) break;
    try {
      const res = await fetch(target, { signal: AbortSignal.timeout(remaining) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      // An attempt cut short by the overall deadline says less than the answer before it.
      if ((e as Error | null)?.name === 'TimeoutError') last ??= 'no answer before the timeout';
      else last = fetchFailure(e);
    }
    const pause = Math.min(intervalMs, deadline - performance.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
  throw new Error(
    `waitForHealth: ${target.href} did not answer 200 within ${timeout} ms (last: ${last ?? 'no attempt made'})`,
  );
}
