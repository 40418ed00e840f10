// core.process().start() answers seed 001 §17.5's ProcessHandle over the real process service:
// isRunning/kill/done/output/wait/info agree with /proc and real exit codes; process.exited
// carries the output (§17.6); process.start takes the seed's dir (000 §3).
import { existsSync, readlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core, CoreEvent } from '../../lib/core/index.js';
import { processService } from '../../lib/service/service.js';
import { testCore, until } from '../core/helpers.js';
import { tempDir } from '../helpers.js';

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function started(): Promise<Core> {
  const core = testCore();
  core.use(processService({ killGrace: 500 }));
  await core.start();
  cores.push(core);
  return core;
}

describe('core.process().start() -> ProcessHandle', () => {
  it('good: a handle whose pid is the child in /proc, running in dir; done and wait after exit 0', async () => {
    const core = await started();
    const dir = tempDir();
    const r = await core.process().start({
      command: 'sh',
      args: ['-c', 'read x; echo "got $x"; echo warn >&2'],
      dir,
    });
    if (!r.ok) throw r.error;
    const h = r.value;
    expect(h.isRunning()).toBe(true);
    expect(h.pid).toBeGreaterThan(0);
    expect(readlinkSync(`/proc/${h.pid}/cwd`)).toBe(dir);
    expect(h.info()).toMatchObject({ id: h.id, pid: h.pid, command: 'sh', running: true });
    await core.action('process.input').run({ id: h.id, data: 'go\n', close: true });
    const info = await h.done;
    expect(info).toMatchObject({ status: 'exited', exitCode: 0, running: false });
    expect(h.isRunning()).toBe(false);
    expect(existsSync(`/proc/${h.pid}`)).toBe(false);
    expect(await h.output()).toBe('got go\nwarn\n');
    expect(await h.wait()).toEqual({ ok: true, value: info });
  });

  it('bad: kill() ends it with SIGTERM; wait() fails TerminatedBySignal', async () => {
    const core = await started();
    const r = await core.process().start({ command: 'sleep', args: ['60'] });
    if (!r.ok) throw r.error;
    const h = r.value;
    expect(await h.kill()).toEqual({ ok: true, value: true });
    const w = await h.wait();
    expect(!w.ok && w.error).toMatchObject({ kind: 'TerminatedBySignal', code: 'SIGTERM' });
    expect(h.info()).toMatchObject({ status: 'killed', signal: 'SIGTERM', running: false });
    expect(existsSync(`/proc/${h.pid}`)).toBe(false);
    expect(await h.kill()).toEqual({ ok: true, value: false });
  });

  it('ugly: process.exited carries the output; a missing program is a typed failure, no handle', async () => {
    const core = await started();
    const exited: CoreEvent[] = [];
    core.events.subscribe('process.exited', (e) => {
      exited.push(e);
    });
    const r = await core.process().start({ command: 'sh', args: ['-c', 'echo a; exit 4'] });
    if (!r.ok) throw r.error;
    const w = await r.value.wait();
    expect(!w.ok && w.error).toMatchObject({ kind: 'NonZeroExit', code: 4 });
    await until(() => exited.length > 0);
    expect(exited.map((e) => e.payload)).toEqual([
      expect.objectContaining({ id: r.value.id, exitCode: 4, output: 'a\n' }),
    ]);
    const missing = await core.process().start({ command: 'no-such-program-zz' });
    expect(!missing.ok && missing.error.kind).toBe('NotFound');
  });
});
