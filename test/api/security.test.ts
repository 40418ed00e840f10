// Who may call: the bearer token compared exactly (header or ?token=), a Host check against
// DNS rebinding (a forged Host is sent with node:http, since fetch forbids setting it), and
// CORS closed unless an origin is listed.
import { describe, expect, it } from 'vitest';
import { BASE, type Reply, rawRequest, useApi } from './helpers.js';

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

  it('bad: a token differing only in its last character is 401 invalid_token, in the header or the query', async () => {
    const api = await start({ token: TOKEN });
    const near = `${TOKEN.slice(0, -1)}6`;
    const wrong = (r: Reply) => [r.status, r.headers.get('www-authenticate'), r.body.error.kind];
    const invalid = [401, 'Bearer error="invalid_token"', 'Unauthorized'];
    expect(wrong(await api.call('GET', `${BASE}/processes`, undefined, { token: near }))).toEqual(
      invalid,
    );
    expect(
      wrong(await api.call('GET', `${BASE}/processes?token=${near}`, undefined, { token: null })),
    ).toEqual(invalid);
    // Neither a prefix nor the token with something appended.
    for (const token of [TOKEN.slice(0, -1), `${TOKEN}x`]) {
      expect(wrong(await api.call('GET', `${BASE}/processes`, undefined, { token }))).toEqual(
        invalid,
      );
    }
  });

  it('ugly: odd credentials: another scheme is a bare 401, a malformed or doubled token 400 invalid_request', async () => {
    const api = await start({ token: TOKEN });
    const get = async (authorization: string | null, query = '') => {
      const r = await api.call('GET', `${BASE}/processes${query}`, undefined, {
        token: null,
        headers: authorization === null ? {} : { authorization },
      });
      return [r.status, r.headers.get('www-authenticate')];
    };
    const bare = [401, 'Bearer'];
    const invalidRequest = [400, 'Bearer error="invalid_request"'];
    // No credentials at all, or a scheme we do not speak: no error code (RFC 6750 §3.1).
    expect(await get(null)).toEqual(bare);
    expect(await get(`Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`)).toEqual(bare);
    // A header that is present but not a bearer token does not fall back to ?token=.
    expect(await get('Basic eDp5', `?token=${TOKEN}`)).toEqual(bare);
    // Bearer with nothing, or with two words; the token twice (header and query, or the
    // query parameter repeated): malformed, even when the token is right.
    expect(await get('Bearer ')).toEqual(invalidRequest);
    expect(await get(`Bearer ${TOKEN} ${TOKEN}`)).toEqual(invalidRequest);
    expect(await get(`Bearer ${TOKEN}`, `?token=${TOKEN}`)).toEqual(invalidRequest);
    expect(await get(null, `?token=${TOKEN}&token=${TOKEN}`)).toEqual(invalidRequest);
    expect(await get(null, '?token=')).toEqual(invalidRequest);
    expect(await get(`bearer ${TOKEN}`)).toEqual([200, null]); // the scheme is case-insensitive
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
