// The health server over real HTTP (fetch), and waitForHealth against servers that come up
// late or never become healthy. The listening socket is checked in /proc/net/tcp.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type HealthCheckResult, HealthServer, waitForHealth } from '../../lib/daemon/health.js';

/** The JSON bodies the server sends; which fields are present depends on the endpoint. */
interface Body {
  status: string;
  ready: boolean;
  checks: HealthCheckResult[];
  error: { kind: string; message: string };
}

const servers: HealthServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

async function serve(options: ConstructorParameters<typeof HealthServer>[0] = {}) {
  const server = new HealthServer(options);
  servers.push(server);
  const address = await server.start();
  return { server, ...address };
}

async function getJson(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    body: (await res.json()) as Body,
  };
}

/** Ports in LISTEN state on 127.0.0.1, from /proc/net/tcp. */
function listeningPorts(): number[] {
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[3] === '0A' && f[1]?.startsWith('0100007F:'))
    .map((f) => Number.parseInt(f[1]?.split(':')[1] ?? '', 16));
}

/** A port nothing listens on: bound by the kernel's choice, then closed. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

describe('HealthServer /health', () => {
  it('good: 200 with every check listed when all pass', async () => {
    const { url } = await serve({
      checks: { sync: () => true, none: () => undefined, later: async () => true },
    });
    const r = await getJson(`${url}/health`);
    expect(r.status).toBe(200);
    expect(r.type).toBe('application/json');
    expect(r.body.status).toBe('ok');
    expect(r.body.checks.map((c) => [c.name, c.ok])).toEqual([
      ['sync', true],
      ['none', true],
      ['later', true],
    ]);
    for (const c of r.body.checks) expect(typeof c.durationMs).toBe('number');
  });

  it('good: no checks is healthy', async () => {
    const { url } = await serve();
    expect(await getJson(`${url}/health`)).toMatchObject({
      status: 200,
      body: { status: 'ok', checks: [] },
    });
  });

  it('bad: 503 naming the failing check, whether it returns false, throws or rejects', async () => {
    const { server, url } = await serve({ checks: { fine: () => true } });
    server.addCheck('db', () => false);
    server.addCheck('disk', () => {
      throw new Error('disk full: /var');
    });
    server.addCheck('queue', () => Promise.reject(new Error('queue unreachable')));
    const r = await getJson(`${url}/health`);
    expect(r.status).toBe(503);
    expect(r.body.status).toBe('unhealthy');
    const byName = Object.fromEntries(r.body.checks.map((c) => [c.name, c] as const));
    expect(byName.fine).toEqual({ name: 'fine', ok: true, durationMs: expect.any(Number) });
    expect(byName.db).toMatchObject({ ok: false, error: 'check returned false' });
    expect(byName.disk).toMatchObject({ ok: false, error: 'disk full: /var' });
    expect(byName.queue).toMatchObject({ ok: false, error: 'queue unreachable' });
  });

  it('ugly: a check that never settles is timed out and the response still arrives', async () => {
    const { url } = await serve({
      checkTimeoutMs: 200,
      checks: { hang: () => new Promise<boolean>(() => {}), ok: () => true },
    });
    const started = performance.now();
    const r = await getJson(`${url}/health`, { signal: AbortSignal.timeout(10_000) });
    expect(performance.now() - started).toBeLessThan(5000);
    expect(r.status).toBe(503);
    expect(r.body.checks).toEqual([
      { name: 'hang', ok: false, durationMs: expect.any(Number), error: 'timed out after 200 ms' },
      { name: 'ok', ok: true, durationMs: expect.any(Number) },
    ]);
  });

  it('ugly: checks run concurrently: each one waits until all have started', async () => {
    let started = 0;
    // Run one after another, the first would wait forever and time out.
    const barrier = async () => {
      started++;
      while (started < 3) await new Promise((r) => setTimeout(r, 5));
      return true;
    };
    const { server } = await serve({
      checkTimeoutMs: 5000,
      checks: { a: barrier, b: barrier, c: barrier },
    });
    const report = await server.runChecks();
    expect(report.checks.map((c) => c.error)).toEqual([undefined, undefined, undefined]);
    expect(report.ok).toBe(true);
  });

  it('bad: a duplicate or empty check name is refused, naming it', () => {
    const server = new HealthServer({ checks: { db: () => true } });
    expect(() => server.addCheck('db', () => true)).toThrow(/"db" already exists/);
    expect(() => server.addCheck('', () => true)).toThrow(/non-empty string/);
  });
});

describe('HealthServer /ready', () => {
  it('good: follows setReady, starting not ready', async () => {
    const { server, url } = await serve();
    expect(await getJson(`${url}/ready`)).toMatchObject({ status: 503, body: { ready: false } });
    server.setReady(true);
    expect(await getJson(`${url}/ready`)).toMatchObject({ status: 200, body: { ready: true } });
    server.setReady(false);
    expect(await getJson(`${url}/ready`)).toMatchObject({ status: 503, body: { ready: false } });
  });

  it('bad: readiness does not depend on the checks', async () => {
    const { server, url } = await serve({ checks: { broken: () => false } });
    server.setReady(true);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
    expect((await fetch(`${url}/health`)).status).toBe(503);
  });
});

describe('HealthServer routing', () => {
  it('bad: an unknown path is 404 with a JSON error naming it', async () => {
    const { url } = await serve();
    const r = await getJson(`${url}/nope`);
    expect(r.status).toBe(404);
    expect(r.type).toBe('application/json');
    expect(r.body).toEqual({
      error: { kind: 'NotFound', message: expect.stringContaining('/nope') },
    });
  });

  it('bad: another method is 405 with Allow', async () => {
    const { url } = await serve();
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${url}/health`, { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(((await res.json()) as Body).error.kind).toBe('MethodNotAllowed');
    }
  });

  it('ugly: a query string does not change the route; HEAD answers like GET without a body', async () => {
    const { url } = await serve();
    expect((await fetch(`${url}/health?verbose=1`)).status).toBe(200);
    const head = await fetch(`${url}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });
});

describe('HealthServer lifecycle', () => {
  it('good: port 0 gives a real port that the kernel lists as listening', async () => {
    const { server, host, port, url } = await serve({ addr: '127.0.0.1:0' });
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    expect(server.url).toBe(url);
    expect(listeningPorts()).toContain(port);
  });

  it('good: stop closes the port and idle keep-alive connections; a later fetch fails', async () => {
    const { server, url, port } = await serve();
    // fetch keeps the connection alive: stop must not wait for it to time out.
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const started = performance.now();
    await server.stop();
    expect(performance.now() - started).toBeLessThan(3000);
    expect(server.url).toBeNull();
    expect(listeningPorts()).not.toContain(port);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    await server.stop(); // idempotent
  });

  it('bad: a port in use fails start, naming the address', async () => {
    const { port } = await serve();
    const second = new HealthServer({ addr: `127.0.0.1:${port}` });
    await expect(second.start()).rejects.toThrow(`127.0.0.1:${port}`);
    expect(second.url).toBeNull();
  });

  it('bad: an addr that is not host:port is refused, naming it', () => {
    expect(() => new HealthServer({ addr: 'localhost' })).toThrow(/"localhost"/);
    expect(() => new HealthServer({ addr: '127.0.0.1:99999' })).toThrow(/99999/);
    expect(() => new HealthServer({ checkTimeoutMs: 0 })).toThrow(/checkTimeoutMs/);
  });

  it('ugly: an IPv6 addr gets a bracketed url', async () => {
    let address: Awaited<ReturnType<HealthServer['start']>>;
    const server = new HealthServer({ addr: '[::1]:0' });
    try {
      address = await server.start();
    } catch {
      return; // no IPv6 loopback on this machine: nothing to check
    } finally {
      servers.push(server);
    }
    expect(address.url).toBe(`http://[::1]:${address.port}`);
    expect((await fetch(`${address.url}/health`)).status).toBe(200);
  });
});

describe('waitForHealth', () => {
  it('good: resolves once a server that starts later answers 200', async () => {
    const port = await freePort();
    const server = new HealthServer({ addr: `127.0.0.1:${port}` });
    servers.push(server);
    const late = setTimeout(() => void server.start(), 300);
    try {
      await waitForHealth(`http://127.0.0.1:${port}`, { timeout: 10_000, intervalMs: 20 });
    } finally {
      clearTimeout(late);
    }
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });

  it('good: resolves once the checks turn healthy; an explicit path is used', async () => {
    let healthy = false;
    const { url } = await serve({ checks: { warm: () => healthy } });
    setTimeout(() => {
      healthy = true;
    }, 200);
    await waitForHealth(url, { timeout: 10_000 });
    expect(healthy).toBe(true);
    const { server, url: other } = await serve();
    setTimeout(() => server.setReady(true), 100);
    await waitForHealth(other, { path: '/ready', timeout: 10_000 });
    expect((await fetch(`${other}/ready`)).status).toBe(200);
  });

  it('bad: rejects after its timeout naming the url, the timeout and the last status', async () => {
    const { url } = await serve({ checks: { never: () => false } });
    const started = performance.now();
    const e = await waitForHealth(url, { timeout: 300 }).catch((err: Error) => err);
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toContain(`${url}/health`);
    expect((e as Error).message).toContain('300 ms');
    expect((e as Error).message).toContain('HTTP 503');
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('ugly: nothing listening is reported as the connection error', async () => {
    const port = await freePort();
    const e = await waitForHealth(`http://127.0.0.1:${port}/custom`, { timeout: 200 }).catch(
      (err: Error) => err,
    );
    expect((e as Error).message).toContain(`http://127.0.0.1:${port}/custom`);
    expect((e as Error).message).toContain('ECONNREFUSED');
    await expect(waitForHealth('not a url')).rejects.toThrow(/"not a url"/);
  });
});
