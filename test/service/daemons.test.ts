// daemon.* actions: supervision through the service's spawner, so the policy applies to every
// start, daemon.* events reach the bus and the audit trail, and core.stop() ends it all.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core, CoreEvent } from '../../lib/core/index.js';
import type { SupervisorStatus } from '../../lib/daemon/supervisor.js';
import { JsonlWriter } from '../../lib/events/jsonl.js';
import { type ProcessServiceOptions, processService } from '../../lib/service/service.js';
import { testCore, until } from '../core/helpers.js';
import { procState, tempDir } from '../helpers.js';

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function started(options: ProcessServiceOptions = {}) {
  const core = testCore();
  const svc = processService({ killGrace: 300, ...options });
  core.use(svc);
  const seen: CoreEvent[] = [];
  core.events.subscribe('daemon.*', (e) => {
    seen.push(e);
  });
  await core.start();
  cores.push(core);
  return { core, svc, seen };
}

const gone = (pid: number) => {
  const s = procState(pid);
  return s === null || s === 'Z';
};

describe('daemon.start', () => {
  it('good: a crashing daemon is restarted by policy, each start is a managed process, events on the bus', async () => {
    const { core, seen } = await started();
    const r = await core.action('daemon.start').run({
      name: 'crashy',
      command: 'sh',
      args: ['-c', 'sleep 0.05; exit 1'],
      restart: { policy: 'on-failure', maxRestarts: 2, backoff: { initialMs: 10 } },
    });
    expect(r.ok).toBe(true);
    await until(() => seen.some((e) => e.topic === 'daemon.gave-up'), 10_000);
    const get = await core.action('daemon.get').run({ name: 'crashy' });
    expect(get.ok && (get.value as SupervisorStatus)).toMatchObject({
      state: 'gave-up',
      restarts: 2,
    });
    const list = await core.action('process.list').run();
    expect(list.ok && (list.value as unknown[]).length).toBe(3);
    expect(seen.filter((e) => e.topic === 'daemon.started')).toHaveLength(3);
  });

  it('bad: a daemon whose program the policy refuses never starts: PermissionDenied', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'ran');
    const { core } = await started({ policy: { allow: ['sleep'] } });
    const r = await core
      .action('daemon.start')
      .run({ name: 'evil', command: 'touch', args: [marker] });
    expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied' });
    expect(existsSync(marker)).toBe(false);
    const dup = await core.action('daemon.start').run({ name: 'bad name!', command: 'sleep' });
    expect(!dup.ok && dup.error).toMatchObject({ kind: 'InvalidInput', field: 'name' });
  });

  it('ugly: daemon.stop takes the group down; core.stop() stops the rest without restarts, all audited', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.jsonl');
    const { core, svc } = await started({ audit: { subscribers: [new JsonlWriter(file, dir)] } });
    await core
      .action('daemon.start')
      .run({ name: 'a', command: 'sleep', args: ['30'], restart: { policy: 'always' } });
    await core
      .action('daemon.start')
      .run({ name: 'b', command: 'sleep', args: ['30'], restart: { policy: 'always' } });
    const a = await core.action('daemon.get').run({ name: 'a' });
    const b = await core.action('daemon.get').run({ name: 'b' });
    const pidA = (a.ok ? (a.value as SupervisorStatus).pid : 0) as number;
    const pidB = (b.ok ? (b.value as SupervisorStatus).pid : 0) as number;
    const stopped = await core.action('daemon.stop').run({ name: 'a' });
    expect(stopped.ok && (stopped.value as SupervisorStatus).state).toBe('stopped');
    expect(gone(pidA)).toBe(true);
    await core.stop();
    expect(gone(pidB)).toBe(true);
    await svc.audit?.flush();
    const names = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { name: string }).name);
    expect(names.filter((n) => n === 'daemon.started')).toHaveLength(2);
    expect(names.filter((n) => n === 'daemon.stopped')).toHaveLength(2);
    expect(names.filter((n) => n === 'process.spawned')).toHaveLength(2);
  });
});

describe('daemon.health', () => {
  it('good: probes now and reports the verdict with the status', async () => {
    const { core } = await started();
    await core.action('daemon.start').run({
      name: 'h',
      command: 'sleep',
      args: ['30'],
      health: { exec: ['true'], intervalMs: 60_000 },
    });
    const r = await core.action('daemon.health').run({ name: 'h' });
    expect(r.ok && r.value).toMatchObject({ name: 'h', probe: { ok: true } });
    const missing = await core.action('daemon.health').run({ name: 'nope' });
    expect(!missing.ok && missing.error.message).toMatch(/daemon nope: no such supervised daemon/);
  });

  it('bad: daemon.start with a probe that could not run is a failed Result naming the field', async () => {
    const { core } = await started();
    const r = await core.action('daemon.start').run({
      name: 'p',
      command: 'sleep',
      args: ['30'],
      health: { tcp: 'abc', intervalMs: 10 },
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.cause).toMatchObject({ kind: 'InvalidCommand', field: 'health.tcp' });
    const list = await core.action('daemon.list').run({});
    expect(list.ok && list.value).toEqual([]);
  });
});
