// Scenario 3: spawn throughput with 32 spawns in flight — /bin/true, a new one started as soon as
// one exits, until N have completed. Measures how well exit watching scales under concurrency.
import { runC } from '../lib/c.js';
import { TRUE_BIN } from '../lib/proc.js';
import { hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { median } from '../lib/stats.js';

export const id = 3;
export const title = '32 spawns of /bin/true in flight (stdio null)';

const IN_FLIGHT = 32;

function inflight(driver, total) {
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    const t0 = hrNow();
    const launch = () => {
      started++;
      driver.spawnTrue(TRUE_BIN).then(onDone, reject);
    };
    const onDone = () => {
      done++;
      if (started < total) launch();
      else if (done === total) resolve({ ops: total, elapsedNs: nsSince(t0) });
    };
    for (let i = 0; i < Math.min(IN_FLIGHT, total); i++) launch();
  });
}

export async function run(ctx) {
  const rounds = ctx.quick ? 1 : 3;
  const total = ctx.quick ? 300 : 1000;
  const contenders = ctx.drivers.map((d) => ({ name: d.name, run: () => inflight(d, total) }));
  if (ctx.c.ok) {
    const args = ['inflight', String(total), String(IN_FLIGHT), TRUE_BIN];
    contenders.push({ name: 'c', run: () => runC(ctx.c.bins.spawn_loop, args) });
  }
  for (const d of ctx.drivers) await inflight(d, IN_FLIGHT * 2);
  const { samples, errors } = await roundRobin(contenders, { rounds, log: ctx.log });
  const rows = [];
  for (const c of contenders) {
    const s = samples[c.name];
    if (!s.length) continue;
    const ops = s.map((x) => x.ops / (x.elapsedNs / 1e9));
    rows.push({
      impl: c.name,
      value: median(ops),
      min: Math.min(...ops),
      max: Math.max(...ops),
      rounds: ops,
    });
  }
  return {
    unit: 'ops/s',
    higherIsBetter: true,
    params: { rounds, total, inFlight: IN_FLIGHT, program: TRUE_BIN },
    columns: [
      { key: 'value', title: 'ops/s (median)' },
      { key: 'ratio', title: 'vs cp', kind: 'ratio' },
      { key: 'min', title: 'min ops/s' },
      { key: 'max', title: 'max ops/s' },
    ],
    rows,
    errors,
    targets: [
      { text: 'core ops/s ≥ 1.8× cp', impl: 'core', vs: 'cp', min: 1.8 },
      { text: 'core vs C (32 in flight, waitpid(-1)) (report)', impl: 'core', vs: 'c' },
    ],
  };
}
