// The audit trail of the process service, read back from the JSONL file it writes: one valid
// envelope per spawn, signal, exit and denial, none lost when a subscriber fails.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core, CoreEvent } from '../../lib/core/index.js';
import type { EventEnvelope } from '../../lib/events/envelope.js';
import { JsonlWriter } from '../../lib/events/jsonl.js';
import type { Subscriber } from '../../lib/events/subscriber.js';
import { validate } from '../../lib/events/validate.js';
import { type ProcessService, processService } from '../../lib/service/service.js';
import { testCore, until } from '../core/helpers.js';
import { tempDir } from '../helpers.js';

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function audited(
  subscribers: Subscriber[],
  extra: Parameters<typeof processService>[0] = {},
): Promise<{ core: Core; svc: ProcessService }> {
  const core = testCore();
  const svc = processService({ killGrace: 200, audit: { subscribers }, ...extra });
  core.use(svc);
  await core.start();
  cores.push(core);
  return { core, svc };
}

function lines(file: string): EventEnvelope[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as EventEnvelope);
}

describe('audit: spawn and exit', () => {
  it('good: one valid envelope per spawn (program, args, cwd, pid, scheduling) and per exit (code, rusage)', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.jsonl');
    const { core, svc } = await audited([new JsonlWriter('audit.jsonl', dir)]);
    const r = await core
      .action('process.run')
      .run({ command: 'sh', args: ['-c', 'exit 3'], cwd: dir });
    expect(r.ok).toBe(false);
    await svc.audit?.flush();
    const [spawned, exited] = lines(file);
    for (const e of [spawned, exited]) expect(validate(e)).toBeNull();
    expect(spawned).toMatchObject({
      name: 'process.spawned',
      actor: { kind: 'service', id: 'test/process' },
      artifact: { type: 'process' },
      payload: {
        program: 'sh',
        path: expect.stringMatching(/^\/.*\/(sh|dash|bash)$/),
        args: ['-c', 'exit 3'],
        cwd: dir,
      },
    });
    const pid = (spawned?.payload as { pid: number }).pid;
    expect(pid).toBeGreaterThan(0);
    expect(exited).toMatchObject({
      name: 'process.exited',
      payload: { pid, code: 3, signal: null, rusage: { maxRssKb: expect.any(Number) } },
    });
  });

  it('good: 1,000 runs give exactly 1,000 spawn and 1,000 exit records, pids matching', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.jsonl');
    const { core, svc } = await audited([new JsonlWriter(file, dir)]);
    for (let i = 0; i < 1000; i++) {
      const r = await core.action('process.run').run({ command: 'true' });
      if (!r.ok) throw r.error;
    }
    await svc.audit?.flush();
    const all = lines(file);
    const spawned = all.filter((e) => e.name === 'process.spawned').map((e) => e.payload.pid);
    const exited = all.filter((e) => e.name === 'process.exited').map((e) => e.payload.pid);
    expect(spawned).toHaveLength(1000);
    expect(exited).toHaveLength(1000);
    expect(new Set(exited)).toEqual(new Set(spawned));
    expect(svc.audit?.stats()).toMatchObject({ recorded: 2000, delivered: 2000, failed: 0 });
  });
});

describe('audit: signals and denials', () => {
  it('good: a kill is recorded with its target, signal and the caller named in the context', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.jsonl');
    const { core, svc } = await audited([new JsonlWriter(file, dir)]);
    const started = await core.action('process.start').run({ command: 'sleep', args: ['30'] });
    const id = started.ok ? (started.value as { id: string }).id : '';
    await core
      .action('process.kill')
      .run({ id, signal: 'SIGKILL' }, { context: { actor: { kind: 'user', id: 'ops' } } });
    await core.action('process.wait').run({ id });
    await svc.audit?.flush();
    const signalled = lines(file).find((e) => e.name === 'process.signalled');
    expect(signalled).toMatchObject({
      actor: { kind: 'user', id: 'ops' },
      payload: { id, signal: 'SIGKILL', group: true, sent: true, reason: 'process.kill' },
    });
    expect(lines(file).find((e) => e.name === 'process.exited')?.payload).toMatchObject({
      signal: 'SIGKILL',
    });
  });

  it('bad: a policy refusal is recorded as process.denied with the request and the rule', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.jsonl');
    const { core, svc } = await audited([new JsonlWriter(file, dir)], {
      policy: { allow: ['true'] },
    });
    await core.action('process.run').run({ command: 'echo', args: ['x'] });
    await svc.audit?.flush();
    const all = lines(file);
    expect(all.map((e) => e.name)).toEqual(['process.denied']);
    expect(all[0]?.payload).toMatchObject({
      action: 'process.run',
      field: 'program',
      request: { program: 'echo', args: ['x'] },
    });
  });

  it('ugly: core.stop() records the shutdown signals and the exits before it returns', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.jsonl');
    const { core } = await audited([new JsonlWriter(file, dir)]);
    await core.action('process.start').run({ command: 'sleep', args: ['30'] });
    await core.stop();
    const names = lines(file).map((e) => e.name);
    expect(names).toEqual(['process.spawned', 'process.signalled', 'process.exited']);
    expect(lines(file)[1]?.payload).toMatchObject({ reason: 'shutdown', signal: 'SIGTERM' });
  });
});

describe('audit: failing subscribers', () => {
  it('ugly: a throwing subscriber loses nothing for the others, is counted, and reported on the bus', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'audit.jsonl');
    const broken: Subscriber = {
      name: 'broken',
      deliver: async () => {
        throw new Error('disk "full"');
      },
    };
    const stderr: string[] = [];
    const original = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      stderr.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const { core, svc } = await audited([broken, new JsonlWriter(file, dir)]);
      const failures: CoreEvent[] = [];
      core.events.subscribe('audit.failed', (e) => {
        failures.push(e);
      });
      const r = await core.action('process.run').run({ command: 'echo', args: ['still runs'] });
      expect(r).toEqual({ ok: true, value: 'still runs\n' });
      await svc.audit?.flush();
      expect(lines(file).map((e) => e.name)).toEqual(['process.spawned', 'process.exited']);
      expect(svc.audit?.stats()).toMatchObject({ recorded: 2, failed: 2 });
      await until(() => failures.length === 2);
      expect(failures[0]?.payload).toMatchObject({
        subscriber: 'broken',
        event: 'process.spawned',
      });
    } finally {
      process.stderr.write = original;
    }
    expect(stderr.join('')).toContain(
      'event-dispatch failure: subscriber=broken event=process.spawned error="disk \\"full\\""',
    );
  });
});

describe('audit: configuration', () => {
  it('good: without subscribers the events block of core-process.yaml under root is used', async () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'core-process.yaml'),
      'events:\n  subscribers:\n    - type: jsonl\n      path: logs/audit.jsonl\n',
    );
    const core = testCore();
    const svc = processService({ audit: { root: dir } });
    core.use(svc);
    await core.start();
    cores.push(core);
    await core.action('process.run').run({ command: 'true' });
    await svc.audit?.flush();
    expect(lines(path.join(dir, 'logs/audit.jsonl')).map((e) => e.name)).toEqual([
      'process.spawned',
      'process.exited',
    ]);
  });
});
