// Scenario 11: what the Core costs on top of the process layer. /bin/true runs through run()
// directly, through core.action('process.run').run() (entitlement check, input validation,
// managed process with ring buffers and bus events) and through the core.process().run()
// sugar, interleaved call by call: the target is a 5% difference, smaller than the drift
// between whole batches on this VM.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
  // The same with an audit trail: two JSONL records per run (spawned, exited), written
  // before the call counts as done.
  const auditDir = mkdtempSync(path.join(tmpdir(), 'bench-audit-'));
  const audited = new lib.Core({ name: 'bench-audit', logger: lib.silentLogger });
  const auditSvc = lib.processService({
    audit: { subscribers: [new lib.JsonlWriter('audit.jsonl', auditDir)] },
  });
  audited.use(auditSvc);
  await audited.start();
  const auditedAction = audited.action('process.run');
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
  // The audited run gets its own pass against run(): its file writes use the threadpool,
  // which would otherwise disturb the 5% comparison above.
  const withAudit = {
    'direct (audit pass)': once.direct,
    // Flushed in the timed call: the records are written before the next contender runs,
    // so their cost is counted here and does not spill into a neighbour's timing.
    audited: async () => {
      const r = await auditedAction.run(input);
      if (!r.ok) throw r.error;
      await auditSvc.audit.flush();
    },
  };
  const contenders = [...Object.keys(once), ...Object.keys(withAudit)].map((name) => ({ name }));
  try {
    for (const c of Object.values(once)) for (let i = 0; i < 20; i++) await c();
    const first = await interleaved(once, { rounds, perRound, log: ctx.log });
    for (let i = 0; i < 20; i++) await withAudit.audited();
    const second = await interleaved(withAudit, { rounds, perRound, log: ctx.log });
    const samples = { ...first.samples, ...second.samples };
    const errors = { ...first.errors, ...second.errors };
    const rows = opsRows(contenders, samples);
    const direct = rows.find((r) => r.impl === 'direct');
    const directAudit = rows.find((r) => r.impl === 'direct (audit pass)');
    for (const r of rows) {
      const base = r.impl === 'audited' || r.impl === 'direct (audit pass)' ? directAudit : direct;
      r.cost = base ? base.value / r.value : null;
    }
    return {
      unit: 'ops/s',
      higherIsBetter: true,
      params: { rounds, perRound, program: TRUE_BIN },
      labels: {
        direct: 'run() directly',
        action: "core.action('process.run').run()",
        sugar: 'core.process().run()',
        'direct (audit pass)': 'run() directly (audit pass)',
        audited: 'process.run with a JSONL audit trail',
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
        { text: 'audited action vs direct (report)', impl: 'audited', vs: 'direct (audit pass)' },
      ],
    };
  } finally {
    await app.stop();
    await auditSvc.audit?.flush();
    await audited.stop();
    rmSync(auditDir, { recursive: true, force: true });
  }
}
