// The value schemas the process service's actions declare (`output`): every action has one,
// and real values fit it. The routed actions are held to theirs over HTTP by the API suite
// (test/api/contract.ts); this covers the actions without a route (thread.*) and the ones
// whose route reshapes the value (process.run, daemon.*).
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Core } from '../../lib/core/index.js';
import { processService } from '../../lib/service/service.js';
import { testCore } from '../core/helpers.js';

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function started(): Promise<Core> {
  const core = testCore();
  core.use(processService({ killGrace: 300 }));
  await core.start();
  cores.push(core);
  return core;
}

/** Runs the action and parses its value with the schema it declares (throws when it does not fit). */
async function valueFits(core: Core, name: string, input: unknown): Promise<unknown> {
  const r = await core.action(name).run(input);
  if (!r.ok) throw r.error;
  const schema = core.action(name).def()?.output;
  if (schema === undefined) throw new Error(`${name}: no output schema`);
  return schema.parse(r.value);
}

describe('action output schemas', () => {
  it('good: every action of the process service declares one, convertible to JSON Schema', async () => {
    const core = await started();
    const names = core.actions('**');
    expect(names.length).toBeGreaterThanOrEqual(19);
    for (const name of names) {
      const output = core.action(name).def()?.output;
      expect(output, name).toBeDefined();
      const json = z.toJSONSchema(output as z.ZodType, { io: 'output', unrepresentable: 'any' });
      expect(Object.keys(json).length, name).toBeGreaterThan(1);
    }
  });

  it('good: thread.create, thread.affinity and thread.join values fit their schemas', async () => {
    const core = await started();
    const created = (await valueFits(core, 'thread.create', {
      module: new URL('../thread/fixtures/report.mjs', import.meta.url).href,
      affinity: [0],
      data: 7,
    })) as { id: string; tid: number };
    expect(created.tid).toBeGreaterThan(0);
    await valueFits(core, 'thread.affinity', { id: created.id, cpus: [0] });
    const joined = (await valueFits(core, 'thread.join', { id: created.id })) as {
      exitCode: number;
    };
    expect(joined.exitCode).toBe(0);
  });

  it('bad: a value of the wrong shape does not fit (the schemas are not `unknown`)', async () => {
    const core = await started();
    const schema = core.action('process.get').def()?.output as z.ZodType;
    expect(schema.safeParse({ id: 'proc-1' }).success).toBe(false);
    expect(core.action('process.run').def()?.output?.safeParse(5).success).toBe(false);
    const daemon = core.action('daemon.get').def()?.output as z.ZodType;
    expect(daemon.safeParse({ name: 'web', state: 'asleep' }).success).toBe(false);
  });

  it('ugly: process.run and daemon.start values fit before any route reshapes them', async () => {
    const core = await started();
    expect(await valueFits(core, 'process.run', { command: 'echo', args: ['hi'] })).toBe('hi\n');
    const status = (await valueFits(core, 'daemon.start', {
      name: 'sleeper',
      command: 'sleep',
      args: ['30'],
    })) as { state: string };
    expect(['starting', 'running']).toContain(status.state);
    await valueFits(core, 'daemon.health', { name: 'sleeper' });
    await valueFits(core, 'daemon.stop', { name: 'sleeper' });
  });
});
