// The sandbox over real HTTP: POST /processes/run with a sandbox confines the child (the probe
// from test/fixtures/sandbox-probe.c reports what the kernel answered), and a typo'd key is a
// 400 naming it rather than a child run unconfined.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { needsTool } from '../optional.js';
import { FIXTURES } from '../subprocess.js';
import { BASE, useApi } from './helpers.js';

const suite = needsTool('gcc', existsSync('/usr/bin/gcc'), 'apt-get install gcc');
const start = useApi();

let dir: string;
let probe: string;
beforeAll(() => {
  dir = tempDir('core-process-api-sandbox-');
  probe = path.join(dir, 'probe');
  execFileSync('gcc', ['-O1', '-o', probe, path.join(FIXTURES, 'sandbox-probe.c')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

suite('POST /processes/run with a sandbox', () => {
  it('good: seccomp default and a write root confine the child', async () => {
    const api = await start();
    const r = await api.call('POST', `${BASE}/processes/run`, {
      command: probe,
      args: ['unshare', `write:${path.join(dir, 'escaped')}`],
      sandbox: { syscalls: 'default', filesystem: { write: [] } },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      output: `unshare=EPERM\nwrite:${path.join(dir, 'escaped')}=EACCES\n`,
    });
    expect(existsSync(path.join(dir, 'escaped'))).toBe(false);
  });

  it('bad: a typo of sandbox is 400 InvalidInput naming the key and the nearest one; nothing runs', async () => {
    const api = await start();
    const marker = path.join(dir, 'typo');
    const r = await api.call('POST', `${BASE}/processes/run`, {
      command: probe,
      args: [`write:${marker}`],
      sandbx: { network: 'none' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ kind: 'InvalidInput', field: 'sandbx' });
    expect(r.body.error.message).toContain("did you mean 'sandbox'?");
    expect(existsSync(marker)).toBe(false);
  });

  it('ugly: an unknown syscall name in POST /processes is refused, naming it', async () => {
    const api = await start();
    const r = await api.call('POST', `${BASE}/processes`, {
      command: probe,
      sandbox: { syscalls: { deny: ['not_a_syscall'] } },
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(JSON.stringify(r.body)).toContain('not_a_syscall');
  });
});
