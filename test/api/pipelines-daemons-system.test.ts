// The pipeline, daemon and system routes over real HTTP: pipeline results and the run list,
// daemons addressed as <code>/<daemon> (code = the core's name), and the per-CPU placement
// read back against the kernel's own affinity of the child.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SupervisorStatus } from '../../lib/daemon/supervisor.js';
import { eventually, programOf, runningAsleep, tempDir } from '../helpers.js';
import { tasksetCpus } from '../thread/helpers.js';
import { type Api, alive, BASE, startProcess, useApi } from './helpers.js';

const start = useApi();

describe('POST /pipelines', () => {
  it('good: a pipeline runs in dependency order; the result counts passed specs', async () => {
    const api = await start();
    const file = path.join(tempDir(), 'handoff');
    const r = await api.call('POST', `${BASE}/pipelines`, {
      specs: [
        // Listed first, runs second: it reads what `a` wrote.
        { name: 'b', command: 'cat', args: [file], after: ['a'] },
        { name: 'a', command: 'sh', args: ['-c', `echo first | tee ${file}`] },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: expect.stringMatching(/^pipeline-/),
      passed: 2,
      failed: 0,
      skipped: 0,
      success: true,
    });
    const byName = Object.fromEntries(
      r.body.specs.map((s: { name: string }) => [s.name, s]),
    ) as Record<
      string,
      { status: string; output: string; exitStatus: { pid: number; code: number } }
    >;
    expect(byName.a).toMatchObject({
      status: 'passed',
      output: 'first\n',
      exitStatus: { code: 0 },
    });
    expect(byName.b).toMatchObject({ status: 'passed', output: 'first\n' });
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    // Each spec was a real child: a real pid, long gone now.
    expect(byName.a?.exitStatus.pid).toBeGreaterThan(0);
    expect(alive(byName.a?.exitStatus.pid ?? 0)).toBe(false);
  });

  it('bad: a failing spec fails the run, and what depends on it is skipped, never started', async () => {
    const api = await start();
    const r = await api.call('POST', `${BASE}/pipelines`, {
      specs: [
        { name: 'ok', command: 'true' },
        { name: 'broken', command: 'sh', args: ['-c', 'exit 4'] },
        { name: 'deploy', command: 'echo', args: ['deployed'], after: ['broken'] },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ passed: 1, failed: 1, skipped: 1, success: false });
    const states = Object.fromEntries(
      r.body.specs.map((s: { name: string; status: string }) => [s.name, s.status]),
    );
    expect(states).toEqual({ ok: 'passed', broken: 'failed', deploy: 'skipped' });
    const list = await api.call('GET', `${BASE}/processes`);
    expect(list.body.map((p: { args: string[] }) => p.args)).not.toContainEqual(['deployed']);
  });

  it('ugly: a dependency cycle is 400 before anything starts', async () => {
    const api = await start();
    const r = await api.call('POST', `${BASE}/pipelines`, {
      specs: [
        { name: 'a', command: 'true', after: ['b'] },
        { name: 'b', command: 'true', after: ['a'] },
      ],
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/cycle/);
    expect((await api.call('GET', `${BASE}/processes`)).body).toEqual([]);
  });
});

describe('GET /pipelines', () => {
  it('good: a finished run is listed with each spec’s state', async () => {
    const api = await start();
    const run = await api.call('POST', `${BASE}/pipelines`, {
      specs: [
        { name: 'x', command: 'true' },
        { name: 'y', command: 'false', after: ['x'] },
      ],
    });
    const r = await api.call('GET', `${BASE}/pipelines`);
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(1);
    expect(r.body[0]).toMatchObject({
      id: run.body.id,
      state: 'done',
      specs: [
        { name: 'x', command: 'true', status: 'passed' },
        { name: 'y', command: 'false', after: ['x'], status: 'failed' },
      ],
    });
  });

  it('bad: a pipeline refused for a cycle never ran: no spec of it left pending', async () => {
    const api = await start();
    const refused = await api.call('POST', `${BASE}/pipelines`, {
      specs: [{ name: 'a', command: 'true', after: ['a'] }],
    });
    expect(refused.status).toBe(400);
    const r = await api.call('GET', `${BASE}/pipelines`);
    expect(r.status).toBe(200);
    const states = r.body.flatMap((p: { specs: Array<{ status: string }> }) =>
      p.specs.map((s) => s.status),
    );
    expect(states.filter((s: string) => s !== 'pending')).toEqual([]);
    expect((await api.call('GET', `${BASE}/processes`)).body).toEqual([]);
  });

  it('ugly: with no pipeline run yet the list is empty, not missing', async () => {
    const api = await start();
    expect(await api.call('GET', `${BASE}/pipelines`)).toMatchObject({ status: 200, body: [] });
  });
});

async function daemon(api: Api, name: string, extra: Record<string, unknown> = {}) {
  const r = await api.core
    .action('daemon.start')
    .run({ name, command: 'sleep', args: ['30'], ...extra });
  if (!r.ok) throw r.error;
  return r.value as SupervisorStatus;
}

describe('GET /daemons', () => {
  it('good: every supervised daemon, with the core’s name as its code', async () => {
    const api = await start();
    const a = await daemon(api, 'alpha');
    await daemon(api, 'beta');
    const r = await api.call('GET', `${BASE}/daemons`);
    expect(r.status).toBe(200);
    expect(r.body.map((d: { daemon: string }) => d.daemon).sort()).toEqual(['alpha', 'beta']);
    const alpha = r.body.find((d: { name: string }) => d.name === 'alpha');
    expect(alpha).toMatchObject({ code: 'test', daemon: 'alpha', state: 'running', pid: a.pid });
    expect(alive(a.pid as number)).toBe(true);
  });

  it('bad: none supervised: an empty list', async () => {
    const api = await start();
    expect(await api.call('GET', `${BASE}/daemons`)).toMatchObject({ status: 200, body: [] });
  });

  it('ugly: a stopped daemon stays listed as stopped, without a pid', async () => {
    const api = await start();
    await daemon(api, 'gone');
    await api.call('POST', `${BASE}/daemons/test/gone/stop`);
    const r = await api.call('GET', `${BASE}/daemons`);
    expect(r.body).toEqual([expect.objectContaining({ daemon: 'gone', state: 'stopped' })]);
  });
});

describe('GET /daemons/:code/:daemon', () => {
  it('good: one daemon’s status, its pid the live child', async () => {
    const api = await start();
    const d = await daemon(api, 'web');
    const r = await api.call('GET', `${BASE}/daemons/test/web`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ code: 'test', daemon: 'web', name: 'web', pid: d.pid });
    expect(await eventually(() => runningAsleep(programOf(d.pid as number)))).toBe(true);
  });

  it('bad: another code is 404 even when the daemon name exists here', async () => {
    const api = await start();
    await daemon(api, 'web');
    const r = await api.call('GET', `${BASE}/daemons/other-app/web`);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({
      kind: 'NotFound',
      message: expect.stringContaining('other-app'),
    });
  });

  it('ugly: an unknown daemon under the right code is 404 naming it', async () => {
    const api = await start();
    const r = await api.call('GET', `${BASE}/daemons/test/nobody`);
    expect(r.status).toBe(404);
    expect(r.body.error.message).toMatch(/nobody/);
  });
});

describe('POST /daemons/:code/:daemon/stop', () => {
  it('good: the daemon is stopped and its pid is gone from /proc', async () => {
    const api = await start();
    const d = await daemon(api, 'worker', { restart: { policy: 'always' } });
    const pid = d.pid as number;
    expect(alive(pid)).toBe(true);
    const r = await api.call('POST', `${BASE}/daemons/test/worker/stop`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ code: 'test', daemon: 'worker', state: 'stopped' });
    expect(await eventually(() => !alive(pid))).toBe(true);
    // Stopped means stopped: the 'always' policy did not start another one.
    const list = await api.call('GET', `${BASE}/processes`);
    expect(list.body.filter((p: { status: string }) => p.status === 'running')).toEqual([]);
  });

  it('bad: stopping under another code is 404 and leaves the daemon running', async () => {
    const api = await start();
    const d = await daemon(api, 'worker');
    const r = await api.call('POST', `${BASE}/daemons/elsewhere/worker/stop`);
    expect(r.status).toBe(404);
    expect(alive(d.pid as number)).toBe(true);
  });

  it('ugly: stopping an unknown daemon is 404', async () => {
    const api = await start();
    expect((await api.call('POST', `${BASE}/daemons/test/ghost/stop`, {})).status).toBe(404);
  });
});

describe('GET /daemons/:code/:daemon/health', () => {
  it('good: the probe runs now and its verdict comes back with the status', async () => {
    const api = await start();
    await daemon(api, 'h', { health: { exec: ['true'], intervalMs: 60_000 } });
    const r = await api.call('GET', `${BASE}/daemons/test/h/health`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'h', probe: { ok: true }, status: { state: 'running' } });
  });

  it('bad: a failing probe is reported as not ok (still 200: the probe ran)', async () => {
    const api = await start();
    await daemon(api, 'sick', { health: { exec: ['false'], intervalMs: 60_000 } });
    const r = await api.call('GET', `${BASE}/daemons/test/sick/health`);
    expect(r.status).toBe(200);
    expect(r.body.probe).toMatchObject({ ok: false });
  });

  it('ugly: a daemon without a probe answers probe: null; unknown ones 404', async () => {
    const api = await start();
    await daemon(api, 'plain');
    const r = await api.call('GET', `${BASE}/daemons/test/plain/health`);
    expect(r.body).toMatchObject({ name: 'plain', probe: null });
    expect((await api.call('GET', `${BASE}/daemons/test/nope/health`)).status).toBe(404);
    expect((await api.call('GET', `${BASE}/daemons/x/plain/health`)).status).toBe(404);
  });
});

describe('GET /system', () => {
  const twoCpus = availableParallelism() >= 2;

  it.runIf(twoCpus)('good: a process pinned to CPU 1 is listed under CPU 1 only', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, { command: 'sleep', args: ['30'], affinity: [1] });
    expect(tasksetCpus(pid)).toEqual([1]); // the kernel agrees
    const r = await api.call('GET', `${BASE}/system`);
    expect(r.status).toBe(200);
    expect(r.body.cpus).toEqual(expect.arrayContaining([0, 1]));
    const on = (cpu: number) =>
      r.body.perCpu
        .find((c: { cpu: number }) => c.cpu === cpu)
        .processes.map((p: { id: string }) => p.id);
    expect(on(1)).toContain(id);
    expect(on(0)).not.toContain(id);
    const entry = r.body.perCpu[1].processes.find((p: { id: string }) => p.id === id);
    expect(entry).toMatchObject({ pid, command: 'sleep', realtime: false, policy: 'other' });
  });

  it('bad: an exited process is not placed on any CPU', async () => {
    const api = await start();
    const { id } = await startProcess(api, { command: 'true' });
    await api.call('POST', `${BASE}/processes/${id}/wait`, {});
    const r = await api.call('GET', `${BASE}/system`);
    for (const c of r.body.perCpu) {
      expect(c.processes.map((p: { id: string }) => p.id)).not.toContain(id);
    }
  });

  it('ugly: an unpinned process is listed under every online CPU', async () => {
    const api = await start();
    const { id, pid } = await startProcess(api, { command: 'sleep', args: ['30'] });
    const cpus = tasksetCpus(pid);
    const r = await api.call('GET', `${BASE}/system`);
    const where = r.body.perCpu
      .filter((c: { processes: Array<{ id: string }> }) => c.processes.some((p) => p.id === id))
      .map((c: { cpu: number }) => c.cpu);
    expect(where).toEqual(cpus);
  });
});
