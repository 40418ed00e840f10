// Scenario 7: lateness of a timed wait. Against a `sleep 100` child that will not exit, measure
// (time from the call to the timeout rejection) − 50 ms. core uses child.wait({ timeout: 50 });
// cp uses what a user would write: 'exit' raced against setTimeout(50). The child must survive.
// The C row is the machine's floor: a 50 ms timerfd waited on with epoll_wait, no JS at all.
import { runC } from '../lib/c.js';
import { isAlive, SLEEP_BIN, waitSleeping } from '../lib/proc.js';
import { errorText, hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { summarize } from '../lib/stats.js';

export const id = 7;
export const title = 'lateness of a 50 ms timed wait on a child that keeps running';

const TIMEOUT_MS = 50;
const PER_ROUND = 10;

async function oneTry(driver, handle) {
  const t0 = hrNow();
  let outcome;
  try {
    await driver.waitTimeout(handle, TIMEOUT_MS);
    outcome = 'resolved';
  } catch (err) {
    outcome = err;
  }
  const lateMs = nsSince(t0) / 1e6 - TIMEOUT_MS;
  if (outcome === 'resolved') throw new Error('timed wait resolved although the child is running');
  if (!driver.isTimeoutError(outcome)) {
    throw new Error(`timed wait rejected with an unexpected error: ${errorText(outcome)}`);
  }
  if (!isAlive(handle.pid)) throw new Error('child is no longer running after the timed wait');
  return lateMs;
}

export async function run(ctx) {
  const drivers = ctx.drivers.filter((d) => typeof d.waitTimeout === 'function');
  const rounds = ctx.quick ? 2 : 10;
  const handles = new Map();
  try {
    for (const d of drivers) {
      const h = d.spawnSleep(SLEEP_BIN, ['100'], { stdio: 'null' });
      handles.set(d.name, h);
      await h.ready;
      await waitSleeping(h.pid, 'sleep');
      await oneTry(d, h); // warm-up
    }
    const contenders = drivers.map((d) => ({
      name: d.name,
      run: async () => {
        const late = [];
        for (let i = 0; i < PER_ROUND; i++) late.push(await oneTry(d, handles.get(d.name)));
        return late;
      },
    }));
    if (ctx.c.ok) {
      const args = [String(PER_ROUND), String(TIMEOUT_MS)];
      contenders.push({
        name: 'c',
        run: async () => (await runC(ctx.c.bins.timer_lateness, args)).latNs.map((ns) => ns / 1e6),
      });
    }
    const { samples, errors } = await roundRobin(contenders, {
      rounds,
      gcBetween: false,
      log: ctx.log,
    });
    const notes = {
      core: 'child.wait({ timeout: 50 })',
      cp: "'exit' vs setTimeout(50) race",
      c: 'timerfd + epoll_wait (floor)',
    };
    const rows = [];
    for (const c of contenders) {
      const s = samples[c.name].flat();
      if (!s.length) continue;
      const lat = summarize(s);
      rows.push({
        impl: c.name,
        value: lat.p99,
        p50: lat.p50,
        p99: lat.p99,
        min: lat.min,
        max: lat.max,
        n: lat.n,
        note: notes[c.name],
      });
    }
    return {
      unit: 'ms late (p99)',
      higherIsBetter: false,
      params: { rounds, perRound: PER_ROUND, timeoutMs: TIMEOUT_MS, program: `${SLEEP_BIN} 100` },
      columns: [
        { key: 'p50', title: 'p50 ms late' },
        { key: 'p99', title: 'p99 ms late' },
        { key: 'ratio', title: 'vs cp (p99)', kind: 'ratio' },
        { key: 'min', title: 'min' },
        { key: 'max', title: 'max' },
        { key: 'n', title: 'n' },
        { key: 'note', title: 'how', kind: 'text' },
      ],
      rows,
      errors,
      targets: [
        { text: 'core p99 lateness < 1 ms', impl: 'core', key: 'p99', max: 1 },
        { text: 'core vs the C timerfd floor (report)', impl: 'core', vs: 'c' },
      ],
    };
  } finally {
    for (const h of handles.values()) {
      h.kill('SIGKILL');
      await h.exited;
    }
  }
}
