// Every error status of the API, over real HTTP: whose fault it is decides the code, the body
// is always { error: { kind, message } }, bad input names the field, nothing a client sends
// is ever a 500, and a refused request leaves no child behind.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { BASE, type Reply, startProcess, useApi } from './helpers.js';

const start = useApi();

/** The one error shape: { error: { kind, message, field? } } and nothing else. */
function expectErrorBody(r: Reply, status: number, kind?: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(Object.keys(r.body)).toEqual(['error']);
  expect(r.body.error).toEqual({
    kind: kind ?? expect.any(String),
    message: expect.any(String),
    ...(r.body.error.field === undefined ? {} : { field: expect.any(String) }),
  });
  expect(r.body.error.message.length).toBeGreaterThan(0);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
}

describe('400 bad input', () => {
  it('good: wrong types are refused naming the field, in the body and in the message', async () => {
    const api = await start();
    const { id } = await startProcess(api, { command: 'sleep', args: ['30'] });
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/processes', { command: 5 }, 'command'],
      ['POST', '/processes', { command: 'echo', args: 'x' }, 'args'],
      ['POST', '/processes', { command: 'echo', env: { A: 1 } }, 'env.A'],
      ['POST', '/processes', { command: 'sleep', affinity: 'all' }, 'affinity'],
      ['POST', `/processes/${id}/wait`, { timeout: 'soon' }, 'timeout'],
      ['POST', `/processes/${id}/wait`, { timeout: -1 }, 'timeout'],
      ['POST', `/processes/${id}/kill`, { signal: 9 }, 'signal'],
      ['POST', `/processes/${id}/input`, { data: 42 }, 'data'],
      ['POST', '/pipelines', { specs: 'all of them' }, 'specs'],
      [
        'POST',
        '/pipelines',
        { specs: [{ name: 'a', command: 'true', after: 'b' }] },
        'specs.0.after',
      ],
    ];
    for (const [method, p, body, field] of cases) {
      const r = await api.call(method, `${BASE}${p}`, body);
      expectErrorBody(r, 400);
      expect(r.body.error.field, `${p} ${JSON.stringify(body)}`).toBe(field);
      expect(r.body.error.message).toContain(field);
    }
  });

  it('bad: a megabyte of junk in an option is a 400 whose body quotes it short', async () => {
    const api = await start();
    const junk = { weird: 'x'.repeat(1_000_000) };
    const r = await api.call('POST', `${BASE}/processes`, { command: 'true', stdout: junk });
    expectErrorBody(r, 400);
    expect(JSON.stringify(r.body).length).toBeLessThan(1000);
    expect(r.body.error.message).toContain('stdout');
    expect(r.body.error.message).toContain('(1000000 chars)');
  });

  it('bad: an unknown signal name is 400 naming `signal`, and the child is not touched', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, { command: 'sleep', args: ['30'] });
    const r = await api.call('POST', `${BASE}/processes/${id}/kill`, { signal: 'SIGFOO' });
    expectErrorBody(r, 400);
    expect(r.body.error).toMatchObject({
      field: 'signal',
      message: expect.stringContaining('SIGFOO'),
    });
    const got = await api.call('GET', `${BASE}/processes/${id}`);
    expect(got.body).toMatchObject({ pid, status: 'running' });
  });

  it('ugly: malformed JSON and a pipeline cycle are 400 too, with nothing started', async () => {
    const api = await start();
    const malformed = await api.call('POST', `${BASE}/processes`, undefined, {
      raw: '{"command": "echo", ',
    });
    expectErrorBody(malformed, 400);
    expect(malformed.body.error.message).toMatch(/JSON/);
    const cycle = await api.call('POST', `${BASE}/pipelines`, {
      specs: [
        { name: 'a', command: 'true', after: ['c'] },
        { name: 'b', command: 'true', after: ['a'] },
        { name: 'c', command: 'true', after: ['b'] },
      ],
    });
    expectErrorBody(cycle, 400);
    expect(cycle.body.error.message).toMatch(/cycle/);
    expect((await api.call('GET', `${BASE}/processes`)).body).toEqual([]);
  });
});

describe('401: the token (RFC 6750)', () => {
  it('good: the right token is 200', async () => {
    const api = await start();
    expect((await api.call('GET', `${BASE}/processes`)).status).toBe(200);
  });

  it('bad: no token is 401 with WWW-Authenticate: Bearer', async () => {
    const api = await start();
    const r = await api.call('GET', `${BASE}/processes`, undefined, { token: null });
    expectErrorBody(r, 401, 'Unauthorized');
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('ugly: a wrong token is 401 invalid_token (not 403), and a refused start runs nothing', async () => {
    const api = await start();
    const marker = path.join(tempDir(), 'never');
    const r = await api.call(
      'POST',
      `${BASE}/processes`,
      { command: 'touch', args: [marker] },
      { token: 'x'.repeat(32) },
    );
    expectErrorBody(r, 401, 'Unauthorized');
    expect(r.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(existsSync(marker)).toBe(false);
    expect(api.svc.running()).toBe(0);
  });
});

describe('403: policy and entitlements', () => {
  it('good: the policy lets its allowed program through (201)', async () => {
    const api = await start({ service: { policy: { allow: ['true'] } } });
    const r = await api.call('POST', `${BASE}/processes`, { command: 'true' });
    expect(r.status).toBe(201);
  });

  it('bad: a program the policy does not allow is 403 PermissionDenied and never runs', async () => {
    const api = await start({ service: { policy: { allow: ['true'] } } });
    const r = await api.call('POST', `${BASE}/processes`, { command: 'echo', args: ['x'] });
    expectErrorBody(r, 403, 'PermissionDenied');
    expect(r.body.error.message).toMatch(/echo/);
    // The token was good: no challenge to authenticate again.
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect((await api.call('GET', `${BASE}/processes`)).body).toEqual([]);
  });

  it('ugly: an entitlement checker denying process.start is 403 NotEntitled, nothing runs', async () => {
    const api = await start();
    api.core.setEntitlementChecker((action) =>
      action === 'process.start'
        ? { allowed: false, reason: 'sandboxed' }
        : { allowed: true, unlimited: true },
    );
    const marker = path.join(tempDir(), 'never');
    const r = await api.call('POST', `${BASE}/processes`, { command: 'touch', args: [marker] });
    expectErrorBody(r, 403, 'NotEntitled');
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(existsSync(marker)).toBe(false);
    // Other actions are still allowed.
    expect((await api.call('GET', `${BASE}/processes`)).status).toBe(200);
  });
});

describe('404, 409 and 413', () => {
  it('good: unknown id and unknown route are 404 in the error shape', async () => {
    const api = await start();
    expectErrorBody(await api.call('GET', `${BASE}/processes/proc-31337`), 404, 'NotFound');
    expectErrorBody(
      await api.call('POST', `${BASE}/processes/proc-31337/wait`, {}),
      404,
      'NotFound',
    );
    const route = await api.call('GET', `${BASE}/no/such/route`);
    expectErrorBody(route, 404, 'NotFound');
    expect(route.body.error.message).toContain('/api/process/no/such/route');
    // A known path with the wrong method is no route either.
    expectErrorBody(await api.call('DELETE', `${BASE}/processes`), 404, 'NotFound');
  });

  it('bad: killing a process that has exited is 409 Conflict', async () => {
    const api = await start();
    const { id } = await startProcess(api, { command: 'true' });
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    expectErrorBody(await api.call('POST', `${BASE}/processes/${id}/kill`, {}), 409, 'Conflict');
  });

  it('ugly: a body over bodyLimit is 413, and the command in it never runs', async () => {
    const api = await start({ bodyLimit: 512 });
    const marker = path.join(tempDir(), 'never');
    const r = await api.call('POST', `${BASE}/processes`, {
      command: 'touch',
      args: [marker, 'x'.repeat(2048)],
    });
    expectErrorBody(r, 413, 'PayloadTooLarge');
    expect(r.body.error.message).toContain('512');
    expect(existsSync(marker)).toBe(false);
    // Just under the limit is fine.
    expect((await api.call('POST', `${BASE}/processes`, { command: 'true' })).status).toBe(201);
  });
});

describe('no bad input is ever a 500', () => {
  it('good: bad spawn options are each a 4xx in the error shape', async () => {
    const api = await start();
    const bodies: unknown[] = [
      {},
      [],
      [1, 2],
      'echo',
      42,
      { command: '' },
      { command: 'a\u0000b' },
      { command: 'echo', args: ['a\u0000b'] },
      { command: 'echo', env: { 'A=B': 'x' } },
      { command: 'sleep', affinity: [] },
      { command: 'sleep', affinity: [9999] },
      { command: 'sleep', affinity: [0.5] },
      { command: 'sleep', nice: 100 },
      { command: 'sleep', scheduler: { policy: 'bogus' } },
      { command: 'sleep', scheduler: { policy: 'fifo', priority: 1000 } },
      { command: 'sleep', rlimits: { bogus: 1 } },
      { command: 'sleep', rlimits: { nofile: { soft: 10, hard: 5 } } },
      { command: 'sleep', stdin: 'bogus' },
      { command: 'sleep', stdout: { fd: 'x' } },
      { command: 'sleep', timeout: 'x' },
      { command: 'sleep', timeout: 1e20 },
      { command: 'sleep', killSignal: 'SIGFOO' },
      { command: 'sleep', signal: 'not an AbortSignal' },
      { command: 'sleep', uid: 'root' },
      { command: 'sleep', processGroup: 'x' },
      { command: 'sleep', detach: 'x' },
      { command: 'no-such-program-zz' },
      { command: '/etc/passwd' },
      { command: 'sleep', cwd: '/nonexistent/dir' },
    ];
    for (const body of bodies) {
      const r = await api.call('POST', `${BASE}/processes`, body);
      expect(r.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(r.status, JSON.stringify(body)).toBeLessThan(500);
      expectErrorBody(r, r.status);
    }
    expect(api.svc.running()).toBe(0);
  });

  it('bad: bad bodies on every other POST route are each a 4xx in the error shape', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, { command: 'sleep', args: ['30'] });
    const cases: Array<[string, unknown]> = [];
    for (const p of [`/processes/${id}/wait`, `/processes/${id}/input`, `/processes/${id}/kill`]) {
      for (const body of [[1], 'text', 7, true]) cases.push([p, body]);
    }
    cases.push(
      [`/processes/${id}/wait`, { timeout: 'x' }],
      [`/processes/${id}/wait`, { timeout: null }],
      [`/processes/${id}/input`, { data: {} }],
      [`/processes/${id}/input`, { data: null }],
      [`/processes/${id}/kill`, { signal: 'sigterm' }],
      [`/processes/${id}/kill`, { signal: '__proto__' }],
      [`/processes/${id}/kill`, { signal: '' }],
      [`/processes/${id}/close-stdin`, [1]],
      ['/pipelines', []],
      ['/pipelines', { specs: [] }],
      ['/pipelines', { specs: [{ name: 'a' }] }],
      ['/pipelines', { specs: [{ name: '', command: 'true' }] }],
      ['/pipelines', { specs: [{ name: 'a', command: 'true' }], mode: 'random' }],
      ['/pipelines', { specs: [{ name: 'a', command: 'true' }], concurrency: 0 }],
      [
        '/pipelines',
        {
          specs: [
            { name: 'a', command: 'true' },
            { name: 'a', command: 'true' },
          ],
        },
      ],
      ['/pipelines', { specs: [{ name: 'a', command: 'true', after: ['nobody'] }] }],
      ['/daemons/test/none/stop', [1]],
    );
    for (const [p, body] of cases) {
      const r = await api.call('POST', `${BASE}${p}`, body);
      expect(r.status, `${p} ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
      expect(r.status, `${p} ${JSON.stringify(body)}`).toBeLessThan(500);
      expectErrorBody(r, r.status);
    }
    // None of it reached the child.
    expect((await api.call('GET', `${BASE}/processes/${id}`)).body).toMatchObject({
      pid,
      status: 'running',
    });
    expect((await api.call('GET', `${BASE}/processes`)).body).toHaveLength(1);
  });

  it('ugly: what the HTTP layer rejects (bad JSON, media type, URL, path length) keeps the shape', async () => {
    const api = await start();
    const raw: Array<[string, string, string | undefined, Record<string, string>]> = [
      ['POST', '/processes', '{', {}],
      ['POST', '/processes', '', {}],
      ['POST', '/processes', '{"command":"echo","__proto__":{"x":1}}', {}],
      ['POST', '/processes', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['POST', '/processes', 'echo', { 'content-type': 'text/plain' }],
      ['GET', '/processes/%E0%A4%A', undefined, {}],
      ['GET', `/processes/${'x'.repeat(500)}`, undefined, {}],
      ['GET', `/processes/${'x'.repeat(500)}/output`, undefined, {}],
      ['GET', '/daemons/%ZZ/x', undefined, {}],
    ];
    for (const [method, p, body, headers] of raw) {
      const r = await api.call(method, `${BASE}${p}`, undefined, {
        headers,
        ...(body === undefined ? {} : { raw: body }),
      });
      expect(r.status, `${method} ${p}`).toBeGreaterThanOrEqual(400);
      expect(r.status, `${method} ${p}`).toBeLessThan(500);
      expectErrorBody(r, r.status);
    }
  });
});
