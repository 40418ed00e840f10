// Scenario 10: scheduling calls per second on a running thread. A thread from createThread
// sleeps in Atomics.wait (fixtures/sleeper-thread.js, no spinning) while the main thread calls,
// back to back for a time slice per round:
//   thread-affinity   setThreadAffinity(handle, [A]) / [B] alternating
//   thread-priority   setThreadPriority(handle, 'normal') / 'low' alternating
//   set-affinity      setAffinity(tid, [A]) / [B] alternating (the raw id form)
//   set-scheduler     setScheduler(tid, { policy: 'other' })
//   taskset           execFileSync('taskset', ['-p', '-c', A|B, tid]) alternating
//   chrt              execFileSync('chrt', ['-o', '-p', '0', tid])   (SCHED_OTHER: plain
//                     `chrt -p 0` means SCHED_RR priority 0, which the kernel refuses)
//   c-affinity        C floor: sched_setaffinity alternating on a thread parked in pause()
//   c-sched           C floor: sched_setscheduler(tid, SCHED_OTHER, 0)
import { execFileSync } from 'node:child_process';
import { runC } from '../lib/c.js';
import { cpuAffinity, delay } from '../lib/proc.js';
import { errorText, hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { schedText, threadSched, which } from '../lib/sched.js';
import { median } from '../lib/stats.js';

export const id = 10;
export const title = 'setAffinity / setScheduler calls per second on a sleeping thread';

const SLEEPER = new URL('../fixtures/sleeper-thread.js', import.meta.url);

/** Calls `call(i)` back to back for `ms` milliseconds; returns calls/s. */
function callLoop(call, ms) {
  const budget = ms * 1e6;
  let calls = 0;
  const t0 = hrNow();
  let elapsed = 0;
  while (elapsed < budget) {
    for (let i = 0; i < 16; i++) call(calls++);
    elapsed = nsSince(t0);
  }
  return calls / (elapsed / 1e9);
}

export async function run(ctx) {
  const rounds = ctx.quick ? 2 : 5;
  const sliceMs = ctx.quick ? 100 : 200; // per contender per round: 0.2 s (quick) / 1 s in all
  const aff = cpuAffinity();
  const cpus = aff.error ? [0, 1] : aff.cpus;
  const [cpuA, cpuB] = cpus.length >= 2 ? [cpus[0], cpus[1]] : [cpus[0], cpus[0]];
  const errors = {};
  const notes = [];
  const targets = [];
  const contenders = [];

  const core = ctx.drivers.find((d) => d.name === 'core');
  let lib = null;
  let handle = null;
  let ctl = null;
  try {
    if (!core) throw new Error('@core/process not loaded (see above, or --impl)');
    lib = core.api(
      'createThread',
      'joinThread',
      'setThreadAffinity',
      'setThreadPriority',
      'setAffinity',
      'setScheduler',
    );
  } catch (err) {
    errors.core = errorText(err);
  }
  try {
    if (lib) {
      ctl = new Int32Array(new SharedArrayBuffer(4));
      try {
        handle = await lib.createThread(SLEEPER.href, {
          name: 'sched-target',
          data: { ctl: ctl.buffer },
        });
        await delay(50); // let it reach Atomics.wait
      } catch (err) {
        errors.core = `createThread: ${errorText(err)}`;
      }
    }
    const tid = handle?.tid;
    const sets = [[cpuA], [cpuB]];
    const prios = ['normal', 'low'];
    if (handle) {
      const add = (name, call) =>
        contenders.push({ name, run: async () => callLoop(call, sliceMs) });
      add('thread-affinity', (i) => lib.setThreadAffinity(handle, sets[i & 1]));
      add('thread-priority', (i) => lib.setThreadPriority(handle, prios[i & 1]));
      add('set-affinity', (i) => lib.setAffinity(tid, sets[i & 1]));
      add('set-scheduler', () => lib.setScheduler(tid, { policy: 'other' }));

      // Outside the timing: do the calls land? (CPU list and nice as the kernel reports them)
      try {
        const checks = [];
        lib.setThreadAffinity(handle, [cpuB]);
        lib.setThreadPriority(handle, 'low');
        const low = threadSched(tid);
        checks.push(low.cpus === String(cpuB) && low.nice > 0);
        lib.setAffinity(tid, [cpuA]);
        lib.setThreadPriority(handle, 'normal');
        const normal = threadSched(tid);
        checks.push(normal.cpus === String(cpuA) && normal.nice === 0);
        const ok = checks.every(Boolean);
        targets.push({
          text: 'the calls land (read back from /proc)',
          pass: ok,
          measured: `after [${cpuB}] + 'low': ${schedText(low)}; after [${cpuA}] + 'normal': ${schedText(normal)}`,
        });
        if (!ok) notes.push('!!! scheduling calls did not show up in /proc (see the check above)');
      } catch (err) {
        targets.push({
          text: 'the calls land (read back from /proc)',
          pass: false,
          measured: errorText(err),
        });
      }

      for (const [tool, args] of [
        ['taskset', (i) => ['-p', '-c', String(sets[i & 1][0]), String(tid)]],
        ['chrt', () => ['-o', '-p', '0', String(tid)]],
      ]) {
        const bin = which(tool);
        if (!bin) {
          errors[tool] = `${tool} not found on PATH; row skipped`;
          continue;
        }
        contenders.push({
          name: tool,
          run: async () =>
            callLoop((i) => execFileSync(bin, args(i), { stdio: 'ignore' }), sliceMs),
        });
      }
    }
    if (ctx.c.ok) {
      for (const mode of ['affinity', 'sched']) {
        const args = [mode, String(sliceMs), String(cpuA), String(cpuB)];
        contenders.push({
          name: `c-${mode}`,
          run: async () => {
            const r = await runC(ctx.c.bins.sched_calls, args);
            return r.calls / (r.elapsedNs / 1e9);
          },
        });
      }
    }
    if (!contenders.length) throw new Error(`nothing to measure: ${JSON.stringify(errors)}`);

    // One untimed call each first (JIT, first-use paths, binaries into the page cache).
    for (const c of contenders) {
      if (c.name.startsWith('c-')) continue;
      try {
        await c.run();
      } catch (err) {
        errors[c.name] = `warm-up: ${errorText(err)}`;
      }
    }
    const live = contenders.filter((c) => !errors[c.name]);
    const rr = await roundRobin(live, { rounds, gcBetween: true, log: ctx.log });
    Object.assign(errors, rr.errors);

    const how = {
      'thread-affinity': `setThreadAffinity(handle, [${cpuA}] | [${cpuB}])`,
      'thread-priority': "setThreadPriority(handle, 'normal' | 'low')",
      'set-affinity': `setAffinity(tid, [${cpuA}] | [${cpuB}])`,
      'set-scheduler': "setScheduler(tid, { policy: 'other' })",
      taskset: `taskset -p -c ${cpuA}|${cpuB} <tid>, execFileSync`,
      chrt: 'chrt -o -p 0 <tid>, execFileSync',
      'c-affinity': 'C sched_setaffinity(tid) alternating',
      'c-sched': 'C sched_setscheduler(tid, SCHED_OTHER)',
    };
    const rows = [];
    for (const c of live) {
      const s = rr.samples[c.name];
      if (!s.length) continue;
      const v = median(s);
      rows.push({
        impl: c.name,
        value: v,
        us: 1e6 / v,
        min: Math.min(...s),
        max: Math.max(...s),
        rounds: s,
        how: how[c.name],
      });
    }
    const byName = Object.fromEntries(rows.map((r) => [r.impl, r]));
    for (const r of rows) {
      const isAffinity = /affinity|taskset/.test(r.impl);
      const tool = byName[isAffinity ? 'taskset' : 'chrt'];
      const floor = byName[isAffinity ? 'c-affinity' : 'c-sched'];
      r.vsTool = tool ? r.value / tool.value : null;
      r.vsC = floor ? r.value / floor.value : null;
    }
    targets.push(
      { text: 'setThreadAffinity vs taskset -p (report)', impl: 'thread-affinity', vs: 'taskset' },
      { text: 'setThreadAffinity vs C floor (report)', impl: 'thread-affinity', vs: 'c-affinity' },
      { text: 'setScheduler vs C floor (report)', impl: 'set-scheduler', vs: 'c-sched' },
    );
    return {
      unit: 'calls/s',
      higherIsBetter: true,
      params: {
        rounds,
        sliceMs,
        cpus: `${cpuA},${cpuB}`,
        target: 'createThread sleeping in Atomics.wait',
      },
      labels: {
        'thread-affinity': 'setThreadAffinity',
        'thread-priority': 'setThreadPriority',
        'set-affinity': 'setAffinity(tid)',
        'set-scheduler': 'setScheduler(tid)',
        taskset: 'taskset -p (execFileSync)',
        chrt: 'chrt -o -p (execFileSync)',
        'c-affinity': 'C sched_setaffinity',
        'c-sched': 'C sched_setscheduler',
      },
      columns: [
        { key: 'value', title: 'calls/s (median)' },
        { key: 'us', title: 'µs/call' },
        { key: 'vsTool', title: 'vs taskset/chrt', kind: 'ratio' },
        { key: 'vsC', title: 'vs C', kind: 'ratio' },
        { key: 'min', title: 'min calls/s' },
        { key: 'max', title: 'max calls/s' },
      ],
      rows,
      errors,
      notes,
      targets,
    };
  } finally {
    if (handle) {
      Atomics.store(ctl, 0, 1);
      Atomics.notify(ctl, 0);
      await lib.joinThread(handle);
    }
  }
}
