// The process service on a real Core: each action good / bad / ugly, checked against real
// children (/proc, exit codes, output) and the events on the bus.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core, CoreEvent } from '../../lib/core/index.js';
import { ProcessError } from '../../lib/errors.js';
import { pidNamespaceUnavailable } from '../../lib/process/pidns.js';
import { processService } from '../../lib/service/service.js';
import { testCore, until } from '../core/helpers.js';
import {
  eventually,
  liveGroupMembers as groupMembers,
  maskHas,
  procStatusField,
  runningAsleep,
  tempDir,
} from '../helpers.js';
import { tasksetCpus } from '../thread/helpers.js';

// Non-detached children run under our init in a PID namespace where one can be made
// (containment 'pidns'): the init is one more member of the group, and the pid we get.
const INIT = pidNamespaceUnavailable() === null ? 1 : 0;

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function started(options: Parameters<typeof processService>[0] = {}): Promise<Core> {
  const core = testCore();
  core.use(processService({ killGrace: 500, ...options }));
  await core.start();
  cores.push(core);
  return core;
}

describe('process.run', () => {
  it('good: the value is stdout; core.process() is sugar over it', async () => {
    const core = await started();
    expect(await core.action('process.run').run({ command: 'echo', args: ['hi'] })).toEqual({
      ok: true,
      value: 'hi\n',
    });
    expect(await core.process().run('printf', 'x')).toEqual({ ok: true, value: 'x' });
  });

  it('good: the value is the combined output in the order written, as the seed has it (dir, env K=V)', async () => {
    const core = await started();
    const dir = tempDir();
    // Alternating writes to fd 1 and fd 2: one pipe keeps the child's order exactly.
    const script =
      'for i in 1 2 3 4 5 6 7 8 9 10; do echo "out $i"; echo "err $i" >&2; done; pwd; echo "$A $B"';
    const r = await core.action('process.run').run({
      command: 'sh',
      args: ['-c', script],
      dir,
      env: ['A=one', 'B=two=2'],
    });
    const expected = Array.from({ length: 10 }, (_, i) => `out ${i + 1}\nerr ${i + 1}\n`).join('');
    expect(r).toEqual({ ok: true, value: `${expected}${dir}\none two=2\n` });
    const apart = await core
      .action('process.run')
      .run({ command: 'sh', args: ['-c', 'echo o; echo e >&2'], output: 'separate' });
    expect(apart).toEqual({ ok: true, value: { stdout: 'o\n', stderr: 'e\n' } });
  });

  it('bad: a non-zero exit is a failed Result carrying the status and the output', async () => {
    const core = await started();
    const r = await core
      .action('process.run')
      .run({ command: 'sh', args: ['-c', 'echo oops >&2; exit 3'] });
    expect(r.ok).toBe(false);
    const cause = !r.ok ? (r.error.cause as ProcessError) : undefined;
    expect(cause).toBeInstanceOf(ProcessError);
    expect(cause).toMatchObject({ kind: 'NonZeroExit', code: 3, all: 'oops\n' });
    expect(cause?.status?.code).toBe(3);
    // The kind is the caller's to branch on (seed 004 §5), and an expected exit is no crash.
    expect(!r.ok && r.error).toMatchObject({
      kind: 'NonZeroExit',
      code: 3,
      origin: 'ProcessError',
    });
    expect((core as Core & { log: unknown[] }).log).toEqual([]);
  });

  it('bad: an env entry without = and dir with a different cwd are refused naming the field', async () => {
    const core = await started();
    const env = await core.action('process.run').run({ command: 'true', env: ['A=1', 'NOEQ'] });
    expect(!env.ok && env.error).toMatchObject({ kind: 'InvalidInput', field: 'env.1' });
    const both = await core.action('process.run').run({ command: 'true', dir: '/', cwd: '/tmp' });
    expect(!both.ok && both.error).toMatchObject({ kind: 'InvalidInput', field: 'dir' });
  });

  it('ugly: timeout (the seed ctx deadline) kills the child and fails TimedOut with its output so far', async () => {
    const core = await started();
    const r = await core
      .action('process.run')
      .run({ command: 'sh', args: ['-c', 'echo started; exec sleep 30'], timeout: 200 });
    expect(!r.ok && r.error).toMatchObject({ kind: 'TimedOut', origin: 'ProcessError' });
    expect(!r.ok && (r.error.cause as ProcessError).all).toBe('started\n');
  });

  it('ugly: bad input names the field, and a missing program fails without a child', async () => {
    const core = await started();
    const bad = await core.action('process.run').run({ command: '' });
    expect(!bad.ok && bad.error).toMatchObject({ kind: 'InvalidInput', field: 'command' });
    const missing = await core.action('process.run').run({ command: 'no-such-program-zz' });
    expect(!missing.ok && (missing.error.cause as ProcessError).kind).toBe('NotFound');
    expect(!missing.ok && missing.error.kind).toBe('NotFound');
  });
});

describe('registration is permission', () => {
  it('good: with the service registered, the child really runs (it creates the file)', async () => {
    const core = await started();
    const file = path.join(tempDir(), 'made');
    expect((await core.process().run('touch', file)).ok).toBe(true);
    expect(existsSync(file)).toBe(true);
  });

  it('bad: the same core without the service refuses, and the file is never created', async () => {
    const core = testCore();
    await core.start();
    cores.push(core);
    const file = path.join(tempDir(), 'never');
    const r = await core.action('process.run').run({ command: 'touch', args: [file] });
    expect(!r.ok && r.error.kind).toBe('NotRegistered');
    expect(existsSync(file)).toBe(false);
  });

  it('ugly: an entitlement checker can deny process.run while the service is registered', async () => {
    const core = await started();
    core.setEntitlementChecker((action) =>
      action === 'process.run'
        ? { allowed: false, reason: 'sandboxed' }
        : { allowed: true, unlimited: true },
    );
    const file = path.join(tempDir(), 'denied');
    const r = await core.process().run('touch', file);
    expect(!r.ok && r.error.kind).toBe('NotEntitled');
    expect(existsSync(file)).toBe(false);
  });
});

describe('process.start / get / list / output / input / wait / kill', () => {
  it('good: a started process is listed, fed, read back and waited for', async () => {
    const core = await started();
    const s = await core.action<unknown, { id: string }>('process.start').run({ command: 'cat' });
    if (!s.ok) throw s.error;
    const { id } = s.value;
    const got = await core.action('process.get').run({ id });
    expect(got).toMatchObject({ ok: true, value: { id, command: 'cat', status: 'running' } });
    const pid = (got.ok && (got.value as { pid: number }).pid) as number;
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    const list = await core.action<unknown, Array<{ id: string }>>('process.list').run();
    expect(list.ok && list.value.map((p) => p.id)).toContain(id);
    await core.action('process.input').run({ id, data: 'line\n', close: true });
    const waited = await core.action('process.wait').run({ id });
    expect(waited).toMatchObject({ ok: true, value: { status: 'exited', exitCode: 0 } });
    expect(await core.action('process.output').run({ id })).toMatchObject({
      ok: true,
      value: { stdout: 'line\n', stderr: '' },
    });
  });

  it('bad: an unknown id is a failed Result naming it', async () => {
    const core = await started();
    const r = await core.action('process.get').run({ id: 'proc-999999' });
    expect(!r.ok && r.error.message).toMatch(/proc-999999: no such managed process/);
    const w = await core.action('process.wait').run({ id: 'proc-999999' });
    expect(w.ok).toBe(false);
  });

  it('ugly: wait with a timeout fails TimedOut and the child runs on; kill by pid reaches its group', async () => {
    const core = await started();
    const s = await core.action<unknown, { id: string }>('process.start').run({
      command: 'sh',
      args: ['-c', 'sleep 60 & exec sleep 60'],
    });
    if (!s.ok) throw s.error;
    const snap = await core.action<unknown, { pid: number }>('process.get').run({ id: s.value.id });
    const pid = snap.ok ? snap.value.pid : 0;
    expect(
      await eventually(
        () => (INIT === 1 || runningAsleep(pid)) && groupMembers(pid).length === 2 + INIT,
      ),
    ).toBe(true);
    const w = await core.action('process.wait').run({ id: s.value.id, timeout: 30 });
    expect(!w.ok && (w.error.cause as ProcessError).kind).toBe('TimedOut');
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    const k = await core.action('process.kill').run({ pid, signal: 'SIGKILL' });
    expect(k).toMatchObject({ ok: true, value: { sent: true } });
    await until(() => groupMembers(pid).length === 0);
    const after = await core.action('process.wait').run({ id: s.value.id });
    expect(after).toMatchObject({ ok: true, value: { status: 'killed', signal: 'SIGKILL' } });
  });

  it('ugly: input to a child that exited, or after close, is a typed InvalidCommand naming data', async () => {
    const core = await started();
    const s = await core.action<unknown, { id: string }>('process.start').run({ command: 'true' });
    if (!s.ok) throw s.error;
    await core.action('process.wait').run({ id: s.value.id });
    const late = await core.action('process.input').run({ id: s.value.id, data: 'x' });
    const lateCause = !late.ok ? (late.error.cause as ProcessError) : undefined;
    expect(lateCause).toBeInstanceOf(ProcessError);
    expect(lateCause).toMatchObject({ kind: 'InvalidCommand', field: 'data' });
    expect(lateCause?.message).toMatch(/cannot write input: the child has exited/);

    const c = await core.action<unknown, { id: string }>('process.start').run({
      command: 'sleep',
      args: ['30'],
    });
    if (!c.ok) throw c.error;
    await core.action('process.input').run({ id: c.value.id, close: true });
    const closed = await core.action('process.input').run({ id: c.value.id, data: 'x' });
    const closedCause = !closed.ok ? (closed.error.cause as ProcessError) : undefined;
    expect(closedCause).toMatchObject({
      kind: 'InvalidCommand',
      field: 'data',
      code: 'ERR_STREAM_WRITE_AFTER_END',
    });
    expect(closedCause?.message).toMatch(/stdin was already closed/);
  });

  it('ugly: a background job holding the pipes of a shell without a group does not keep it running', async () => {
    // The fuzz found this: sh dies (timeout), its `sleep &` lives on with the output pipes,
    // and the managed process stayed 'running', so process.wait ignored its timeout.
    const core = await started();
    const marker = `${process.pid}${Date.now() % 1000}`;
    const s = await core.action<unknown, { id: string }>('process.start').run({
      command: 'sh',
      args: ['-c', `sleep 30.${marker} & exec sleep 30`],
      processGroup: false,
      containment: 'none',
      timeout: 200,
      killSignal: 'SIGKILL',
    });
    if (!s.ok) throw s.error;
    const left = () =>
      readdirSync('/proc').filter((e) => {
        try {
          return /^\d+$/.test(e) && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(marker);
        } catch {
          return false;
        }
      });
    try {
      const w = await core.action('process.wait').run({ id: s.value.id, timeout: 10_000 });
      expect(w).toMatchObject({ ok: true, value: { status: 'exited', signal: 'SIGKILL' } });
      // The background job really is alive and holds the pipes: what made it hang.
      expect(left()).toHaveLength(1);
      await core.stop();
    } finally {
      for (const pid of left()) process.kill(Number(pid), 'SIGKILL');
    }
  });
});

describe('events', () => {
  it('good: one run publishes started, one output event per line, then exited', async () => {
    const core = await started();
    const seen: CoreEvent[] = [];
    core.events.subscribe('process.*', (e) => {
      seen.push(e);
    });
    await core.action('process.run').run({ command: 'printf', args: ['one\\ntwo\\n'] });
    await until(() => seen.some((e) => e.topic === 'process.exited'));
    expect(seen.map((e) => e.topic)).toEqual([
      'process.started',
      'process.output',
      'process.output',
      'process.exited',
    ]);
    expect(
      seen
        .filter((e) => e.topic === 'process.output')
        .map((e) => (e.payload as { line: string }).line),
    ).toEqual(['one', 'two']);
  });
});

describe('shutdown', () => {
  it('good: core.stop() kills every managed group: no member is left in /proc', async () => {
    const core = await started();
    const s = await core.action<unknown, { id: string }>('process.start').run({
      command: 'sh',
      args: ['-c', 'sleep 60 & sleep 60 & wait'],
    });
    if (!s.ok) throw s.error;
    const snap = await core.action<unknown, { pid: number }>('process.get').run({ id: s.value.id });
    const pgid = snap.ok ? snap.value.pid : 0;
    expect(await eventually(() => groupMembers(pgid).length === 3 + INIT)).toBe(true);
    const report = await core.stop();
    expect(report.ok).toBe(true);
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('ugly: a group that ignores SIGTERM is SIGKILLed after the grace', async () => {
    const core = await started({ killGrace: 100 });
    const s = await core.action<unknown, { id: string }>('process.start').run({
      command: 'sh',
      args: ['-c', 'trap "" TERM; sleep 60 & wait'],
    });
    if (!s.ok) throw s.error;
    const snap = await core.action<unknown, { pid: number }>('process.get').run({ id: s.value.id });
    const pgid = snap.ok ? snap.value.pid : 0;
    expect(await eventually(() => groupMembers(pgid).length === 2 + INIT)).toBe(true);
    await core.stop();
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('ugly: a member that ignores SIGTERM while its leader dies of it is SIGKILLed too, before stop() resolves', async () => {
    // Before: the escalation looked only at the leader, which had already exited, so the
    // member outlived the core as an orphan.
    const core = await started({ killGrace: 100 });
    const s = await core.action<unknown, { id: string }>('process.start').run({
      command: 'sh',
      args: ['-c', '(trap "" TERM; exec sleep 60) & wait'],
    });
    if (!s.ok) throw s.error;
    const snap = await core.action<unknown, { pid: number }>('process.get').run({ id: s.value.id });
    const pgid = snap.ok ? snap.value.pid : 0;
    expect(
      await eventually(
        () => groupMembers(pgid).length === 2 + INIT && (INIT === 1 || runningAsleep(pgid, 'sh')),
      ),
    ).toBe(true);
    // The member is the sleep: not the leader, nor (in a PID namespace) the sh under our init.
    const member = groupMembers(pgid).find((p) => runningAsleep(p)) as number;
    expect(maskHas(procStatusField(member, 'SigIgn'), 15)).toBe(true); // it ignores SIGTERM
    await core.stop();
    expect(groupMembers(pgid)).toEqual([]);
  });

  it('bad: a detached process outlives the core', async () => {
    const core = await started();
    const s = await core.action<unknown, { id: string }>('process.start').run({
      command: 'sleep',
      args: ['60'],
      detach: true,
    });
    if (!s.ok) throw s.error;
    const snap = await core.action<unknown, { pid: number }>('process.get').run({ id: s.value.id });
    const pid = snap.ok ? snap.value.pid : 0;
    expect(await eventually(() => runningAsleep(pid))).toBe(true);
    await core.stop();
    expect(runningAsleep(pid)).toBe(true);
    process.kill(-pid, 'SIGKILL');
  });
});

describe('thread.*', () => {
  it('good: create, pin and join through actions', async () => {
    const core = await started();
    const hold = new URL('../thread/fixtures/report.mjs', import.meta.url).href;
    const c = await core.action<unknown, { id: string; tid: number }>('thread.create').run({
      module: hold,
      affinity: [1],
      data: 7,
    });
    if (!c.ok) throw c.error;
    const j = await core
      .action<unknown, { value: { ctx: { data: number } } }>('thread.join')
      .run({ id: c.value.id });
    expect(j.ok && j.value.value.ctx.data).toBe(7);
  });

  it('bad: an invalid CPU set is a failed Result with the thread error as cause', async () => {
    const core = await started();
    const r = await core.action('thread.create').run({
      module: new URL('../thread/fixtures/report.mjs', import.meta.url).href,
      affinity: [99],
    });
    expect(!r.ok && (r.error.cause as { kind: string }).kind).toBe('InvalidAffinity');
  });

  it('ugly: thread.affinity moves a running thread, as taskset -p sees it', async () => {
    const core = await started();
    const c = await core.action<unknown, { id: string; tid: number }>('thread.create').run({
      module: new URL('../thread/fixtures/hold.mjs', import.meta.url).href,
      affinity: [0],
    });
    if (!c.ok) throw c.error;
    const a = await core.action('thread.affinity').run({ id: c.value.id, cpus: [1] });
    expect(a.ok).toBe(true);
    expect(tasksetCpus(c.value.tid)).toEqual([1]);
    // core.stop() (afterEach) terminates it.
  });
});
