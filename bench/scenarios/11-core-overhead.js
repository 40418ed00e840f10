// Scenario 11: what the Core costs on top of the process layer. /bin/true runs through run()
// directly, through core.action('process.run').run() (entitlement check, input validation,
// managed process with ring buffers and bus events) and through the core.process().run()
// sugar, interleaved call by call: the target is a 5% difference, smaller than the drift
// between whole batches on this VM.
import { TRUE_BIN } from '../lib/proc.js';
import { interleaved } from '../lib/runner.js';
import { opsRows } from '../lib/stats.js';

export const id = 11;
export const title = 'core.action("process.run") vs run() for /bin/true';

export async function run(ctx) {
  const core = ctx.drivers.find((d) => d.name === 'core');
  if (!core) return { rows: [], errors: { core: 'core driver not loaded' } };
  const lib = core.api('run', 'processService');
  const rounds = ctx.quick ? 2 : 10;
  const perRound = ctx.quick ? 50 : 150;

  const app = new lib.Core({ name: 'bench', logger: lib.silentLogger });
  app.use(lib.processService());
  await app.start();
  const action = app.action('process.run');
  const input = { command: TRUE_BIN };
  const once = {
    direct: async () => {
      await lib.run(TRUE_BIN, []);
    },
    action: async () => {
      const r = await action.run(input);
      if (!r.ok) throw r.error;
    },
    sugar: async () => {
      const r = await app.process().run(TRUE_BIN);
      if (!r.ok) throw r.error;
    },
  };
  const contenders = Object.keys(once).map((name) => ({ name }));
  try {
    for (const c of Object.values(once)) for (let i = 0; i < 20; i++) await c();
    const { samples, errors } = await interleaved(once, { rounds, perRound, log: ctx.log });
    const rows = opsRows(contenders, samples);
    const direct = rows.find((r) => r.impl === 'direct');
    for (const r of rows) r.cost = direct ? direct.value / r.value : null;
    return {
      unit: 'ops/s',
      higherIsBetter: true,
      params: { rounds, perRound, program: TRUE_BIN },
      labels: {
        direct: 'run() directly',
        action: "core.action('process.run').run()",
        sugar: 'core.process().run()',
      },
      columns: [
        { key: 'value', title: 'ops/s (median)' },
        { key: 'cost', title: 'cost ÷ direct', kind: 'ratio' },
        { key: 'p50', title: 'p50 µs' },
        { key: 'p99', title: 'p99 µs' },
        { key: 'min', title: 'min ops/s' },
        { key: 'max', title: 'max ops/s' },
      ],
      rows,
      errors,
      targets: [
        {
          text: 'action overhead under 5% (ops/s ratio ≥ 0.95)',
          impl: 'action',
          vs: 'direct',
          min: 0.95,
        },
        { text: 'sugar vs direct (report)', impl: 'sugar', vs: 'direct' },
      ],
    };
  } finally {
    await app.stop();
  }
}
