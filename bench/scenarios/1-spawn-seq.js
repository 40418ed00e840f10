// Scenario 1: sequential spawn+wait of /bin/true with all stdio null/ignored — the fixed cost of
// starting one process and observing its exit. Also exports the measurement for scenario 2.
import { runC } from '../lib/c.js';
import { TRUE_BIN } from '../lib/proc.js';
import { hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { opsRows } from '../lib/stats.js';

export const id = 1;
export const title = 'sequential spawn+wait of /bin/true (stdio null)';

/**
 * Round-robin sequential spawn loop over the drivers plus the C posix_spawn+waitpid loop.
 * `holdMiB` is passed to the C loop so that it holds the same amount of touched memory.
 */
export async function measureSequential(ctx, { rounds, perRound, warmup, holdMiB = 0 }) {
  const contenders = ctx.drivers.map((d) => ({
    name: d.name,
    run: async () => {
      const lat = new Array(perRound);
      const t0 = hrNow();
      for (let i = 0; i < perRound; i++) {
        const a = hrNow();
        await d.spawnTrue(TRUE_BIN);
        lat[i] = nsSince(a);
      }
      return { ops: perRound, elapsedNs: nsSince(t0), latNs: lat };
    },
  }));
  if (ctx.c.ok) {
    const args = ['seq', String(perRound), TRUE_BIN];
    if (holdMiB) args.push(String(holdMiB));
    contenders.push({ name: 'c', run: () => runC(ctx.c.bins.spawn_loop, args) });
  }
  for (const d of ctx.drivers) {
    for (let i = 0; i < warmup; i++) await d.spawnTrue(TRUE_BIN);
  }
  const { samples, errors } = await roundRobin(contenders, { rounds, log: ctx.log });
  const rows = opsRows(contenders, samples);
  return { rows, errors };
}

export const columns = [
  { key: 'value', title: 'ops/s (median)' },
  { key: 'ratio', title: 'vs cp', kind: 'ratio' },
  { key: 'p50', title: 'p50 µs' },
  { key: 'p99', title: 'p99 µs' },
  { key: 'min', title: 'min ops/s' },
  { key: 'max', title: 'max ops/s' },
];

export async function run(ctx) {
  const rounds = ctx.quick ? 2 : 5;
  const perRound = ctx.quick ? 50 : 200;
  const { rows, errors } = await measureSequential(ctx, { rounds, perRound, warmup: 20 });
  return {
    unit: 'ops/s',
    higherIsBetter: true,
    params: { rounds, perRound, program: TRUE_BIN },
    columns,
    rows,
    errors,
    targets: [
      { text: 'core ops/s ≥ 1.6× cp', impl: 'core', vs: 'cp', min: 1.6 },
      { text: 'core vs C posix_spawn loop (report)', impl: 'core', vs: 'c' },
    ],
  };
}
