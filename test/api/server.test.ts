// serve() itself: where it listens, the token it makes, the panel it serves, and close(),
// which must not hang on a client still waiting for a long-running child (the CLI closes the
// server before it stops the core on SIGINT, so a hang there means Ctrl-C does nothing).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serve } from '../../lib/api/server.js';
import { testCore } from '../core/helpers.js';
import { eventually } from '../helpers.js';
import { alive, BASE, connectEvents, startProcess, useApi } from './helpers.js';

const start = useApi();

/** Listening TCP sockets on `port` from /proc/net/tcp{,6}: their local address in hex. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (local?.endsWith(`:${hexPort}`) && state === '0A') out.push(local.split(':')[0] ?? '');
    }
  }
  return out;
}

describe('serve(): address and token', () => {
  it('good: listens on 127.0.0.1 by default, and only there (the kernel’s socket table agrees)', async () => {
    const { api } = await start();
    expect(api.url).toBe(`http://127.0.0.1:${api.port}`);
    expect(api.port).toBeGreaterThan(0);
    expect(listeners(api.port)).toEqual(['0100007F']); // 127.0.0.1, little-endian hex
  });

  it('bad: a token shorter than 16 characters is refused before anything listens', async () => {
    const core = testCore();
    await expect(serve({ core, token: 'short' })).rejects.toThrow(/at least 16/);
  });

  it('ugly: without a token one is generated, long and different each time, and it works', async () => {
    const a = await start();
    const b = await start();
    expect(a.api.token.length).toBeGreaterThanOrEqual(32);
    expect(a.api.token).not.toBe(b.api.token);
    expect(a.api.panelUrl).toBe(`${a.api.url}/#token=${a.api.token}`);
    expect((await a.call('GET', `${BASE}/processes`)).status).toBe(200);
    expect(
      (await a.call('GET', `${BASE}/processes`, undefined, { token: b.api.token })).status,
    ).toBe(401);
  });
});

describe('serve(): the panel', () => {
  it('good: / is the panel, served with a CSP and nosniff, without a token', async () => {
    const { api } = await start();
    const r = await fetch(`${api.url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await r.text()).toMatch(/<html/i);
  });

  it('bad: panel: false serves no panel (404 in the error shape)', async () => {
    const { api } = await start({ panel: false });
    const r = await fetch(`${api.url}/`);
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ error: { kind: 'NotFound' } });
  });

  it('ugly: no request path reaches the filesystem: traversal is a 404', async () => {
    const { api } = await start();
    for (const p of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json']) {
      const r = await fetch(`${api.url}${p}`);
      expect(r.status, p).toBe(404);
      expect(await r.text()).not.toContain('"name": "@core/process"');
    }
  });
});

describe('serve(): close()', () => {
  it('good: close() stops listening; the port refuses connections afterwards', async () => {
    const core = testCore();
    await core.start();
    const api = await serve({ core });
    try {
      await api.close();
      await expect(fetch(`${api.url}${BASE}/processes`)).rejects.toThrow();
      expect(listeners(api.port)).toEqual([]);
    } finally {
      await core.stop();
    }
  });

  it('bad: close() does not hang on a client waiting for a long-running child', async () => {
    const a = await start();
    const { core, api, call } = a;
    const { id, pid } = await startProcess(a, { command: 'sleep', args: ['60'] });
    const pending = call('POST', `${BASE}/processes/${id}/wait`, {}).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 200)); // let the wait reach the server
    const began = Date.now();
    await api.close();
    expect(Date.now() - began).toBeLessThan(10_000); // generous: without the fix it is 60 s
    expect(await pending).toBeInstanceOf(Error); // the waiting client is cut off, not answered
    expect(alive(pid)).toBe(true); // closing the API does not touch the children...
    await core.stop(); // ...stopping the core does
    expect(await eventually(() => !alive(pid))).toBe(true);
  });

  it('ugly: close() ends open WebSocket clients too', async () => {
    const { api } = await start();
    const client = await connectEvents(api.url, `?token=${api.token}&topics=process.*`);
    await api.close();
    const code = await client.closed;
    expect(code).toBeGreaterThanOrEqual(1000);
  });
});
