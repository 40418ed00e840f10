// The sandbox through the process service: the actions' input schemas, and policy.sandbox as a
// floor every spawn gets. The probe (test/fixtures/sandbox-probe.c) reports what the kernel
// answered inside the child; refusals are read back from the bus and the audit file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Core, CoreEvent } from '../../lib/core/index.js';
import { JsonlWriter } from '../../lib/events/jsonl.js';
import { verifyPolicy } from '../../lib/service/policy.js';
import { type ProcessServiceOptions, processService } from '../../lib/service/service.js';
import { controllerDir, limitValue } from '../cgroups.js';
import { testCore, until } from '../core/helpers.js';
import { tempDir } from '../helpers.js';
import { asRoot, needsTool } from '../optional.js';
import { FIXTURES } from '../subprocess.js';

const suite = needsTool('gcc', existsSync('/usr/bin/gcc'), 'apt-get install gcc');
const { itRoot } = asRoot('limits create cgroups');

let dir: string;
let probe: string;
let server: Server;
let port: number;
beforeAll(async () => {
  dir = tempDir('core-process-svc-sandbox-');
  probe = path.join(dir, 'probe');
  execFileSync('gcc', ['-O1', '-o', probe, path.join(FIXTURES, 'sandbox-probe.c')]);
  server = createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function service(
  extra: ProcessServiceOptions = {},
): Promise<Core & { denied: CoreEvent[]; audit: string }> {
  const core = testCore();
  const audit = path.join(dir, `audit-${cores.length}-${Date.now()}.jsonl`);
  const svc = processService({
    killGrace: 200,
    audit: { subscribers: [new JsonlWriter(audit, dir)] },
    ...extra,
  });
  core.use(svc);
  core.setEntitlementChecker(svc.entitlements);
  const denied: CoreEvent[] = [];
  core.events.subscribe('security.denied', (e) => {
    denied.push(e);
  });
  await core.start();
  cores.push(core);
  return Object.assign(core, { denied, audit, flush: () => svc.audit?.flush() });
}

suite('sandbox through the process service', () => {
  it("process.run takes sandbox: network 'none' makes the host's listener unreachable", async () => {
    const core = await service();
    const r = await core.action('process.run').run({
      command: probe,
      args: [`connect:${port}`],
      sandbox: { network: 'none' },
    });
    expect(r.ok && r.value).toBe(`connect:${port}=ENETUNREACH\n`);
  });

  it('an unknown key in process.run or process.start is InvalidInput naming it and the nearest key; nothing runs', async () => {
    const core = await service();
    const run = await core
      .action('process.run')
      .run({ command: probe, args: ['write:/tmp/never'], sandbx: { network: 'none' } });
    expect(run.ok).toBe(false);
    if (run.ok) return;
    expect(run.error.kind).toBe('InvalidInput');
    expect(run.error.message).toContain("did you mean 'sandbox'?");
    const start = await core
      .action('process.start')
      .run({ command: 'sleep', args: ['5'], limts: { pids: 4 } });
    expect(start.ok).toBe(false);
    if (start.ok) return;
    expect(start.error.message).toContain("did you mean 'limits'?");
    expect((await core.action('process.list').run({})).ok && true).toBe(true);
  });

  it('policy.sandbox is the floor: a request without a sandbox gets it', async () => {
    const core = await service({ policy: { sandbox: { network: 'none', syscalls: 'default' } } });
    const r = await core
      .action('process.run')
      .run({ command: probe, args: [`connect:${port}`, 'unshare'] });
    expect(r.ok && r.value).toBe(`connect:${port}=ENETUNREACH\nunshare=EPERM\n`);
  });

  it('a request may tighten the floor (none under a loopback policy)', async () => {
    const core = await service({ policy: { sandbox: { network: 'loopback' } } });
    const r = await core.action('process.run').run({
      command: probe,
      args: ['self-loopback'],
      sandbox: { network: 'none' },
    });
    expect(r.ok && r.value).toBe('self-loopback=ENETUNREACH\n');
  });

  it('a loosening request is PermissionDenied, published on the bus and audited; nothing runs', async () => {
    const marker = path.join(dir, 'loosened');
    const core = await service({ policy: { sandbox: { network: 'none' } } });
    const r = await core.action('process.run').run({
      command: probe,
      args: [`write:${marker}`],
      sandbox: { network: 'host' },
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe('PermissionDenied');
    expect(r.error.message).toContain("sandbox.network: 'host' is looser than the policy's 'none'");
    expect(existsSync(marker)).toBe(false);
    await until(() => core.denied.length === 1);
    expect(core.denied).toHaveLength(1);
    await (core as unknown as { flush: () => Promise<void> }).flush();
    const records = readFileSync(core.audit, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l));
    expect(records.map((e) => e.name)).toEqual(['process.denied']);
    expect(records[0].payload).toMatchObject({
      field: 'sandbox.network',
      request: { sandbox: { network: 'host' } },
    });
  });

  it('a write root outside the policy’s (through a symlink too) is refused; a narrower one is allowed', async () => {
    const allowed = tempDir('core-process-allowed-');
    const core = await service({ policy: { sandbox: { filesystem: { write: [allowed] } } } });
    const outside = await core.action('process.run').run({
      command: probe,
      args: [],
      sandbox: { filesystem: { write: ['/etc'] } },
    });
    expect(!outside.ok && outside.error.kind).toBe('PermissionDenied');
    execFileSync('ln', ['-s', '/etc', path.join(allowed, 'etc-link')]);
    const viaLink = await core.action('process.run').run({
      command: probe,
      args: [],
      sandbox: { filesystem: { write: [path.join(allowed, 'etc-link')] } },
    });
    expect(!viaLink.ok && viaLink.error.kind).toBe('PermissionDenied');
    execFileSync('mkdir', [path.join(allowed, 'sub')]);
    const inside = await core.action('process.run').run({
      command: probe,
      args: [`write:${path.join(allowed, 'sub', 'f')}`, `write:${path.join(allowed, 'g')}`],
      sandbox: { filesystem: { write: [path.join(allowed, 'sub')] } },
    });
    // Below Landlock ABI 3 the read-only mount namespace refuses first: EROFS, not EACCES.
    expect(inside.ok && inside.value).toMatch(
      new RegExp(
        `^write:${path.join(allowed, 'sub', 'f')}=0\nwrite:${path.join(allowed, 'g')}=(EACCES|EROFS)\n$`,
      ),
    );
    rmSync(allowed, { recursive: true, force: true });
  });

  it('a custom deny list cannot replace a default floor', async () => {
    const core = await service({ policy: { sandbox: { syscalls: 'default' } } });
    const r = await core.action('process.run').run({
      command: probe,
      args: ['unshare'],
      sandbox: { syscalls: { deny: ['getpid'] } },
    });
    expect(!r.ok && r.error.kind).toBe('PermissionDenied');
  });

  itRoot(
    'process.start takes limits: the child runs in a pids cgroup with that limit',
    async () => {
      const core = await service();
      const r = await core
        .action('process.start')
        .run({ command: 'sleep', args: ['30'], limits: { pids: 8 } });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const snap = await core.action('process.get').run({ id: (r.value as { id: string }).id });
      const pid = snap.ok ? (snap.value as { pid: number }).pid : 0;
      // On v2 where the child's cgroup offers pids (pure v2 hosts), else on the v1 hierarchy.
      const pids = controllerDir(pid, 'pids');
      expect(path.basename(pids?.dir ?? '')).toMatch(/^core-process\./);
      expect(pids && limitValue(pids, 'pids')).toBe('8');
    },
  );

  it('verifyPolicy reports a sandbox this machine cannot give', () => {
    const report = verifyPolicy({
      sandbox: { syscalls: { deny: ['no_such_call'] } },
    });
    expect(report.ok).toBe(false);
    expect(report.problems[0]?.message).toContain('no_such_call');
  });
});
