// Scenario 5: SIGKILL-to-exit-observed latency. A `sleep 100` child is spawned and, outside the
// timed section, confirmed asleep via /proc; then the clock runs from kill('SIGKILL') until the
// implementation reports the exit (core: `exited` resolves; cp: 'exit'; peers: their promise).
import { runC } from '../lib/c.js';
import { SLEEP_BIN, waitSleeping } from '../lib/proc.js';
import { hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { summarize } from '../lib/stats.js';

export const id = 5;
export const title = 'SIGKILL → exit observed latency (sleep 100 child)';

async function tries(driver, n) {
  const lat = [];
  for (let i = 0; i < n; i++) {
    const h = driver.spawnSleep(SLEEP_BIN, ['100'], { stdio: 'null' });
    await h.ready;
    await waitSleeping(h.pid, 'sleep');
    const t0 = hrNow();
    const sent = h.kill('SIGKILL');
    const st = await h.exited;
    lat.push(nsSince(t0));
    if (sent === false) throw new Error(`kill('SIGKILL') returned false for running pid ${h.pid}`);
    if (st.signal !== 'SIGKILL') {
      throw new Error(`exit of killed child reported signal=${st.signal} code=${st.code}`);
    }
  }
  return { latNs: lat };
}

export async function run(ctx) {
  const rounds = ctx.quick ? 2 : 5;
  const perRound = ctx.quick ? 10 : 40;
  const contenders = ctx.drivers.map((d) => ({ name: d.name, run: () => tries(d, perRound) }));
  if (ctx.c.ok) {
    const args = [String(perRound), SLEEP_BIN, '100'];
    contenders.push({ name: 'c', run: () => runC(ctx.c.bins.kill_latency, args) });
  }
  for (const d of ctx.drivers) await tries(d, 2);
  const { samples, errors } = await roundRobin(contenders, { rounds, log: ctx.log });
  const rows = [];
  for (const c of contenders) {
    const s = samples[c.name];
    if (!s.length) continue;
    const lat = summarize(s.flatMap((x) => x.latNs));
    rows.push({
      impl: c.name,
      value: lat.p99 / 1e3,
      p50: lat.p50 / 1e3,
      p99: lat.p99 / 1e3,
      mean: lat.mean / 1e3,
      max: lat.max / 1e3,
      n: lat.n,
    });
  }
  return {
    unit: 'µs (p99)',
    higherIsBetter: false,
    params: { rounds, perRound, program: `${SLEEP_BIN} 100` },
    columns: [
      { key: 'p50', title: 'p50 µs' },
      { key: 'p99', title: 'p99 µs' },
      { key: 'ratio', title: 'vs cp (p99)', kind: 'ratio' },
      { key: 'mean', title: 'mean µs' },
      { key: 'max', title: 'max µs' },
      { key: 'n', title: 'n' },
    ],
    rows,
    errors,
    targets: [
      { text: 'core p99 ≤ cp p99', impl: 'core', vs: 'cp', min: 1 },
      {
        text: 'aim: core p99 within 1.2× of the C pidfd loop',
        impl: 'core',
        vs: 'c',
        min: 1 / 1.2,
      },
    ],
  };
}
