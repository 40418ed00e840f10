// Remote actions (seed 001 §19): two cores on loopback. Core B serves its process service with
// lib/api serve(); core A reaches it as drive entry `b` through httpStreams(). Facts checked
// from outside: files the remote child creates, /proc, the remote's audit and bus events, and
// real TLS verification against a CA made here with the openssl CLI.
import cp from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { httpStreams } from '../../lib/api/remote.js';
import { type ApiServer, serve } from '../../lib/api/server.js';
import { Core, type CoreEvent, silentLogger } from '../../lib/core/index.js';
import type { ProcessPolicy } from '../../lib/service/policy.js';
import { processService } from '../../lib/service/service.js';
import { tempDir } from '../helpers.js';

const TOKEN = 'remote-test-token-0123456789';
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function remoteCore(
  opts: { policy?: ProcessPolicy; tls?: { key: string; cert: string } } = {},
): Promise<{ core: Core; server: ApiServer; events: CoreEvent[] }> {
  const core = new Core({ name: 'b', logger: silentLogger });
  core.use(processService({ killGrace: 300, ...(opts.policy ? { policy: opts.policy } : {}) }));
  await core.start();
  const events: CoreEvent[] = [];
  core.events.subscribe('*.*', (e) => {
    events.push(e);
  });
  const server = await serve({
    core,
    token: TOKEN,
    panel: false,
    ...(opts.tls ? { tls: opts.tls } : {}),
  });
  cleanup.push(
    () => core.stop(),
    () => server.close(),
  );
  return { core, server, events };
}

async function localCore(): Promise<Core> {
  const core = new Core({ name: 'a', logger: silentLogger });
  core.use(httpStreams());
  await core.start();
  cleanup.push(() => core.stop());
  return core;
}

function opensslCa(dir: string): { ca: string; key: string; cert: string } {
  const run = (args: string[]) => cp.execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=test CA',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'srv.key',
    '-out',
    'srv.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  require_ext(dir);
  run([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.pem',
    '-days',
    '1',
    '-extfile',
    'ext.cnf',
  ]);
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  return { ca: read('ca.pem'), key: read('srv.key'), cert: read('srv.pem') };
}

function require_ext(dir: string): void {
  cp.execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > ext.cnf'], { cwd: dir });
}

describe("core.action('b:process.run') over http", () => {
  it('good: runs on the remote core, same Result as a local run; the remote own bus sees the child', async () => {
    const { server, events } = await remoteCore();
    const a = await localCore();
    a.drive().new({ name: 'b', transport: `${server.url}/`, token: TOKEN });
    const dir = tempDir();
    const r = await a.action('b:process.run').run({
      command: 'sh',
      args: ['-c', 'echo $$ > pid; echo out; echo err >&2'],
      dir,
    });
    expect(r).toEqual({ ok: true, value: 'out\nerr\n' });
    expect(existsSync(path.join(dir, 'pid'))).toBe(true);
    expect(
      events.some(
        (e) => e.topic === 'process.started' && (e.payload as { cwd: string }).cwd === dir,
      ),
    ).toBe(true);
    const bad = await a.action('b:process.run').run({ command: 'sh', args: ['-c', 'exit 3'] });
    expect(!bad.ok && bad.error).toMatchObject({
      kind: 'NonZeroExit',
      remote: 'b',
      action: 'b:process.run',
    });
  });

  it('bad: the remote policy refuses: PermissionDenied comes back typed, nothing runs there', async () => {
    const { server, events } = await remoteCore({ policy: { allow: ['true'] } });
    const a = await localCore();
    a.drive().new({ name: 'b', transport: `${server.url}/`, token: TOKEN });
    const marker = path.join(tempDir(), 'never');
    const r = await a.action('b:process.run').run({ command: 'touch', args: [marker] });
    expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied', remote: 'b' });
    expect(existsSync(marker)).toBe(false);
    expect(events.some((e) => e.topic === 'security.denied')).toBe(true);
    const wrongToken = await localCore();
    wrongToken
      .drive()
      .new({ name: 'b', transport: `${server.url}/`, token: 'not-the-token-at-all-000' });
    const unauth = await wrongToken.action('b:process.run').run({ command: 'true' });
    expect(!unauth.ok && unauth.error.kind).toBe('Unauthorized');
  });

  it('ugly: unknown host, no drive, no protocol handler: each a typed failure, no hang', async () => {
    const a = await localCore();
    a.drive().new({
      name: 'nowhere',
      transport: 'http://no-such-host.invalid:8790/',
      token: TOKEN,
      timeout: 10_000,
    });
    const r = await a.action('nowhere:process.run').run({ command: 'true' });
    expect(!r.ok && r.error).toMatchObject({
      kind: 'Unreachable',
      code: 'ENOTFOUND',
      remote: 'nowhere',
    });
    const none = await a.action('ghost:process.run').run({ command: 'true' });
    expect(!none.ok && none.error.kind).toBe('NotRegistered');
    a.drive().new({ name: 'm', transport: 'mcp://127.0.0.1:1/' });
    const mcp = await a.action('m:process.run').run({ command: 'true' });
    expect(!mcp.ok && mcp.error).toMatchObject({ kind: 'NotRegistered' });
    expect(!mcp.ok && mcp.error.message).toMatch(/no protocol handler for mcp:/);
    const bare = new Core({ name: 'bare', logger: silentLogger }); // no httpStreams(): no http
    bare.drive().new({ name: 'b', transport: 'http://127.0.0.1:1/' });
    const noHttp = await bare.action('b:process.run').run({ command: 'true' });
    expect(!noHttp.ok && noHttp.error.message).toMatch(/no protocol handler for http:/);
  });

  it('ugly: a connection dropped mid-call is Unreachable, not a hang or a half answer', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"ok":true,"val');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const a = await localCore();
    a.drive().new({
      name: 'x',
      transport: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    });
    const r = await a.action('x:process.run').run({ command: 'true' });
    expect(!r.ok && r.error).toMatchObject({ kind: 'Unreachable', remote: 'x' });
  });

  it('bad: a slow remote past the deadline is Timeout here, and the remote child is killed there', async () => {
    const { server } = await remoteCore();
    const a = await localCore();
    a.drive().new({ name: 'b', transport: `${server.url}/`, token: TOKEN });
    const dir = tempDir();
    const t0 = Date.now();
    const r = await a
      .action('b:process.run')
      .run({ command: 'sh', args: ['-c', 'echo $$ > pid; exec sleep 30'], dir }, { timeout: 1500 });
    expect(!r.ok && r.error).toMatchObject({ kind: 'Timeout', remote: 'b' });
    expect(Date.now() - t0).toBeLessThan(15_000);
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    const end = Date.now() + 10_000;
    while (existsSync(`/proc/${pid}`) && Date.now() < end)
      await new Promise((res) => setTimeout(res, 50));
    expect(existsSync(`/proc/${pid}`)).toBe(false); // the deadline carried over
  });
});

describe('https with a CA made in the test', () => {
  it('good: verified against the drive entry CA; without it the certificate is refused', async () => {
    const pki = opensslCa(tempDir());
    const { server } = await remoteCore({ tls: { key: pki.key, cert: pki.cert } });
    expect(server.url).toMatch(/^https:/);
    const a = await localCore();
    a.drive().new({ name: 'b', transport: `${server.url}/`, token: TOKEN, ca: pki.ca });
    expect(await a.action('b:process.run').run({ command: 'echo', args: ['tls'] })).toEqual({
      ok: true,
      value: 'tls\n',
    });
    a.drive().new({ name: 'u', transport: `${server.url}/`, token: TOKEN });
    const r = await a.action('u:process.run').run({ command: 'echo', args: ['tls'] });
    expect(!r.ok && r.error).toMatchObject({
      kind: 'Unreachable',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  });
});
