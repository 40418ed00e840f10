// Who may call: the bearer token compared exactly (header or ?token=), a Host check against
// DNS rebinding (a forged Host is sent with node:http, since fetch forbids setting it), and
// CORS closed unless an origin is listed.
import { describe, expect, it } from 'vitest';
import { BASE, rawRequest, useApi } from './helpers.js';

const start = useApi();
const TOKEN = 'abcdefghijklmnopqrstuvwxyz012345';

describe('the bearer token', () => {
  it('good: the exact token is accepted, in the header or as ?token=', async () => {
    const api = await start({ token: TOKEN });
    expect((await api.call('GET', `${BASE}/processes`)).status).toBe(200);
    const q = await api.call('GET', `${BASE}/processes?token=${TOKEN}`, undefined, { token: null });
    expect(q.status).toBe(200);
    expect(q.body).toEqual([]);
  });

  it('bad: a token differing only in its last character is 403, in the header or the query', async () => {
    const api = await start({ token: TOKEN });
    const near = `${TOKEN.slice(0, -1)}6`;
    const r = await api.call('GET', `${BASE}/processes`, undefined, { token: near });
    expect(r.status).toBe(403);
    expect(r.body.error.kind).toBe('Forbidden');
    const q = await api.call('GET', `${BASE}/processes?token=${near}`, undefined, { token: null });
    expect(q.status).toBe(403);
    // Neither a prefix nor the token with something appended.
    expect(
      (await api.call('GET', `${BASE}/processes`, undefined, { token: TOKEN.slice(0, -1) })).status,
    ).toBe(403);
    expect(
      (await api.call('GET', `${BASE}/processes`, undefined, { token: `${TOKEN}x` })).status,
    ).toBe(403);
  });

  it('ugly: odd Authorization headers never pass: Basic, empty Bearer, lower-case scheme', async () => {
    const api = await start({ token: TOKEN });
    const get = (authorization: string) =>
      api.call('GET', `${BASE}/processes`, undefined, { token: null, headers: { authorization } });
    expect((await get(`Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`)).status).toBe(401);
    expect((await get('Bearer ')).status).toBe(401);
    expect((await get(`bearer ${TOKEN}`)).status).toBe(200); // the scheme is case-insensitive
    // A header that is present but not a bearer token does not fall back to ?token=.
    const r = await api.call('GET', `${BASE}/processes?token=${TOKEN}`, undefined, {
      token: null,
      headers: { authorization: 'Basic eDp5' },
    });
    expect(r.status).toBe(401);
    // The OpenAPI document is the one public path under the API.
    expect((await api.call('GET', `${BASE}/openapi.json`, undefined, { token: null })).status).toBe(
      200,
    );
  });
});

describe('the Host header', () => {
  it('good: loopback names are accepted, with or without the port', async () => {
    const { api } = await start();
    for (const host of [
      `127.0.0.1:${api.port}`,
      `localhost:${api.port}`,
      'localhost',
      `[::1]:${api.port}`,
      `LOCALHOST:${api.port}`,
    ]) {
      const r = await rawRequest(api.url, 'GET', `${BASE}/processes`, {
        host,
        authorization: `Bearer ${api.token}`,
      });
      expect(r.status, host).toBe(200);
    }
  });

  it('bad: a foreign Host is 403 even with the right token', async () => {
    const { api } = await start();
    const r = await rawRequest(api.url, 'GET', `${BASE}/processes`, {
      host: 'evil.example',
      authorization: `Bearer ${api.token}`,
    });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toEqual({
      error: { kind: 'Forbidden', message: expect.stringContaining('evil.example') },
    });
  });

  it('ugly: rebinding names that merely start like loopback are 403 (127.0.0.1.evil.example)', async () => {
    const { api } = await start();
    for (const host of [
      `127.0.0.1.evil.example:${api.port}`,
      '127.evil',
      '127.0.0.1.nip.io',
      `[::1].evil.example:${api.port}`,
      `localhost.evil.example`,
      `localhost:${api.port}@evil.example`,
      '',
    ]) {
      const r = await rawRequest(api.url, 'GET', `${BASE}/processes`, {
        host,
        authorization: `Bearer ${api.token}`,
      });
      expect(r.status, host).toBe(403);
    }
  });
});

describe('CORS', () => {
  it('good: a listed origin gets Access-Control-Allow-Origin and a 204 preflight', async () => {
    const api = await start({ corsOrigins: ['http://ok.example'] });
    const origin = 'http://ok.example';
    const pre = await api.call('OPTIONS', `${BASE}/processes`, undefined, {
      token: null,
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(origin);
    expect(pre.headers.get('access-control-allow-methods')).toMatch(/POST/);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const get = await api.call('GET', `${BASE}/processes`, undefined, { headers: { origin } });
    expect(get.status).toBe(200);
    expect(get.headers.get('access-control-allow-origin')).toBe(origin);
    expect(get.headers.get('vary')).toMatch(/origin/i);
  });

  it('bad: with no corsOrigins there is no ACAO header and a preflight is not granted', async () => {
    const api = await start();
    const origin = 'http://ok.example';
    const get = await api.call('GET', `${BASE}/processes`, undefined, { headers: { origin } });
    expect(get.status).toBe(200); // the token holder may call; a browser may not read it
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await api.call('OPTIONS', `${BASE}/processes`, undefined, {
      token: null,
      headers: { origin, 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBeGreaterThanOrEqual(400);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect(pre.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('ugly: an origin not on the list (even a near one) gets neither ACAO nor a preflight', async () => {
    const api = await start({ corsOrigins: ['http://ok.example'] });
    for (const origin of [
      'http://evil.example',
      'http://ok.example.evil',
      'https://ok.example',
      'null',
    ]) {
      const pre = await api.call('OPTIONS', `${BASE}/processes`, undefined, {
        token: null,
        headers: { origin, 'access-control-request-method': 'POST' },
      });
      expect(pre.status, origin).not.toBe(204);
      expect(pre.headers.get('access-control-allow-origin'), origin).toBeNull();
      const get = await api.call('GET', `${BASE}/processes`, undefined, { headers: { origin } });
      expect(get.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });
});
