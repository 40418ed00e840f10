// Scenario 12: EventBus throughput: events published per second and delivered to 10 glob
// subscribers ('process.*', 'process.**', '*.output'...), in batches small enough that the
// bounded queues never drop (a drop is reported loudly: it would flatter the figure).
import { hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { median } from '../lib/stats.js';

export const id = 12;
export const title = 'events published per second to 10 glob subscribers';

const PATTERNS = [
  'process.*',
  'process.**',
  '*.output',
  '**',
  'process.output',
  '*.*',
  'process.o*',
  '**.output',
  'process.{output,exited}',
  '*',
];

export async function run(ctx) {
  const core = ctx.drivers.find((d) => d.name === 'core');
  if (!core) return { rows: [], errors: { core: 'core driver not loaded' } };
  const lib = core.api('processService');
  const rounds = ctx.quick ? 2 : 8;
  const batches = ctx.quick ? 20 : 100;
  const batch = 500;
  const payload = { id: 'proc-1', stream: 'stdout', line: 'hello world' };

  const makeBus = (subscribers) => {
    const bus = new lib.EventBus({ queueSize: batch * 2, logger: lib.silentLogger });
    let delivered = 0;
    for (const p of PATTERNS.slice(0, subscribers)) {
      bus.subscribe(p, () => {
        delivered++;
      });
    }
    return { bus, delivered: () => delivered };
  };
  const variant = (subscribers) => async () => {
    const { bus, delivered } = makeBus(subscribers);
    const t0 = hrNow();
    let want = 0;
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < batch; i++) bus.publish('process.output', payload);
      want += batch * subscribers;
      while (delivered() < want) await new Promise((r) => setImmediate(r));
    }
    const elapsedNs = nsSince(t0);
    const stats = bus.stats();
    return { events: batches * batch, elapsedNs, dropped: stats.dropped, matched: delivered() };
  };
  const contenders = [
    { name: 'subs-10', run: variant(10) },
    { name: 'subs-1', run: variant(1) },
  ];
  const { samples, errors } = await roundRobin(contenders, { rounds, log: ctx.log });
  const rows = [];
  const notes = [];
  for (const c of contenders) {
    const s = samples[c.name];
    if (!s?.length) continue;
    const perSec = s.map((x) => x.events / (x.elapsedNs / 1e9));
    const dropped = s.reduce((a, x) => a + x.dropped, 0);
    if (dropped > 0)
      notes.push(`!!! ${c.name}: ${dropped} events dropped; the figure is not valid`);
    rows.push({
      impl: c.name,
      value: median(perSec),
      deliveredPerSec: median(perSec) * (c.name === 'subs-10' ? 10 : 1),
      min: Math.min(...perSec),
      max: Math.max(...perSec),
      dropped,
      rounds: perSec,
    });
  }
  return {
    unit: 'events/s',
    higherIsBetter: true,
    params: { rounds, batches, batch, patterns: PATTERNS },
    labels: { 'subs-10': '10 glob subscribers', 'subs-1': '1 subscriber (process.*)' },
    columns: [
      { key: 'value', title: 'published/s (median)' },
      { key: 'deliveredPerSec', title: 'deliveries/s' },
      { key: 'min', title: 'min' },
      { key: 'max', title: 'max' },
      { key: 'dropped', title: 'dropped' },
    ],
    rows,
    errors,
    notes,
    targets: [],
  };
}
