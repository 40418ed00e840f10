// Scenario 8 (the headline for realtime threads): wake-up lateness of a 1 ms periodic loop under
// full CPU load (stress-ng --cpu <ncpu>). Four contenders, one after another under the same
// load, never concurrently, in alternating order across rounds:
//   (a)  a thread from createThread with default scheduling
//   (b0) the same thread created with affinity [CPU] and priority 'realtime' (SCHED_FIFO 50)
//   (b)  everything applied: a child Node started with --single-threaded-gc and a fixed young
//        generation, memory locked, ONE long-lived realtime thread (pinned, FIFO 50,
//        reset-on-fork, prefaulted stack) for every round, sleeping with periodic().wait()
//        (clock_nanosleep TIMER_ABSTIME); it reports its context switches, faults, schedstat
//        run delay and GC events per round, so each tail sample can be attributed
//   (c)  cyclictest, same interval, policy, priority and CPU: the anchor for what the box allows
// The JS loop (fixtures/jitter-worker.js) waits with Atomics.wait toward an absolute deadline
// that advances 1 ms per iteration, like cyclictest's absolute clock_nanosleep, and measures
// lateness = wake time − deadline. While (a) and (b) run, the main thread reads their policy,
// priority and CPU list from /proc once, to show what was really in effect.
import { execFile, fork } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { cpuAffinity, delay } from '../lib/proc.js';
import { errorText, roundRobin } from '../lib/runner.js';
import {
  parseCyclictestHistogram,
  schedText,
  startCpuLoad,
  stealMs,
  threadSched,
  which,
} from '../lib/sched.js';
import { summarizeTail } from '../lib/stats.js';

export const id = 8;
export const title = 'realtime jitter: 1 ms periodic wake-up lateness under CPU load';

const execFileP = promisify(execFile);
const WORKER = new URL('../fixtures/jitter-worker.js', import.meta.url);
const INTERVAL_US = 1000;
const RT_PRIORITY = 50; // what priority: 'realtime' means (SCHED_FIFO 50)
const HIST_US = 20_000; // cyclictest histogram range; beyond it only the count and max are known
const WARMUP_LOOPS = 500; // JS loops first (0.5 s), so JIT tier-ups land before the measured ones

const A = 'a-default';
const B0 = 'b0-realtime';
const B = 'b-everything';
const C = 'c-cyclictest';
const HOST = new URL('../fixtures/rt-host.mjs', import.meta.url);
const DIST = new URL('../../dist/index.js', import.meta.url);
// The --rt-node recipe (docs/realtime.md): per-process V8 flags, so they go on the command line.
// --no-memory-reducer: its GCs discard page contents (madvise), which the locked loop then
// faults back in. (A run without it once died in MemoryChunk::DiscardUnusedMemory: V8 aborted
// on the refused madvise, which lockMemory's guard now turns into MADV_DONTNEED_LOCKED.)
const RT_NODE_FLAGS = [
  '--single-threaded-gc',
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
  '--no-memory-reducer',
];

/** Contender (b): the host process and its one thread, started on first use. */
function everythingApplied(cpu, perRound) {
  let host = null;
  let ready = null;
  const start = () => {
    host = fork(HOST, [DIST.href, String(cpu), String(INTERVAL_US)], {
      execArgv: RT_NODE_FLAGS,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    ready = new Promise((resolve, reject) => {
      host.once('message', resolve);
      host.once('exit', (code) =>
        reject(new Error(`rt-host exited (${code}) before it was ready`)),
      );
    });
    return ready;
  };
  return {
    info: () => ready,
    async run() {
      const info = await (ready ?? start());
      const result = new Promise((resolve, reject) => {
        host.once('message', resolve);
        host.once('exit', (code) => reject(new Error(`rt-host exited (${code})`)));
      });
      host.send({ loops: perRound, warmup: 200 });
      // While it measures: what does the kernel report for the thread?
      await delay(300);
      const seen = threadSched(info.tid, host.pid);
      const r = await result;
      host.removeAllListeners('exit');
      return { lateUs: Float64Array.from(r.lateUs), skipped: r.skipped, seen, diag: r.diag };
    },
    async stop() {
      if (!host) return;
      host.send('stop');
      await new Promise((r) => host.once('exit', r));
    },
  };
}

/** Tail samples (>= threshold µs) whose wake-up overlapped a GC of the loop's isolate. */
function tailInGc(rounds, thresholdUs) {
  let tail = 0;
  let inGc = 0;
  for (const r of rounds) {
    const gcs = r.diag?.gcs ?? [];
    for (let i = 0; i < r.lateUs.length; i++) {
      const late = r.lateUs[i];
      if (late < thresholdUs) continue;
      tail++;
      const at = (i * INTERVAL_US) / 1000; // ms after the round's t0
      if (gcs.some(([s, d]) => s <= at + late / 1000 + 0.05 && s + d >= at - 0.05)) inGc++;
    }
  }
  return { tail, inGc };
}

/** The CPU the realtime contenders use: 1 when allowed (2-core CI boxes), else the last one. */
function rtCpu() {
  const aff = cpuAffinity();
  if (aff.error) return 1;
  return aff.cpus.includes(1) ? 1 : aff.cpus[aff.cpus.length - 1];
}

/** One createThread run of the jitter loop; returns lateness (µs) and what /proc showed. */
async function workerRun(lib, threadOpts, loops) {
  const ctl = new SharedArrayBuffer(4);
  const flag = new Int32Array(ctl);
  const handle = await lib.createThread(WORKER.href, {
    ...threadOpts,
    data: { loops, warmup: WARMUP_LOOPS, intervalUs: INTERVAL_US, ctl },
  });
  let done = false;
  const joined = lib.joinThread(handle).finally(() => {
    done = true;
  });
  // Once the measured loops have begun: what policy / priority / CPUs does the kernel report?
  let seen = null;
  while (!done && Atomics.load(flag, 0) === 0) await delay(10);
  if (!done) seen = threadSched(handle.tid);
  const result = await joined;
  if (result?.error) throw result.error;
  const value = result?.value;
  if (!value?.lateUs) throw new Error(`thread returned no samples: ${JSON.stringify(result)}`);
  return { lateUs: value.lateUs, skipped: value.skipped, seen };
}

export async function run(ctx) {
  // Full: 8 alternating slices of 1.25 s each, so bursts of host noise spread over all three.
  const rounds = ctx.quick ? 1 : 8;
  const perRound = ctx.quick ? 1500 : 1250;
  const cpu = rtCpu();
  const errors = {};
  const notes = [];

  const contenders = [];
  const core = ctx.drivers.find((d) => d.name === 'core');
  let lib = null;
  try {
    if (!core) throw new Error('@core/process not loaded (see above, or --impl)');
    lib = core.api('createThread', 'joinThread');
  } catch (err) {
    errors[A] = errorText(err);
    errors[B] = errors[A];
  }
  let everything = null;
  if (lib) {
    const aOpts = { name: 'jitter-default' };
    const bOpts = { name: 'jitter-rt', affinity: [cpu], priority: 'realtime' };
    contenders.push({ name: A, run: () => workerRun(lib, aOpts, perRound) });
    contenders.push({ name: B0, run: () => workerRun(lib, bOpts, perRound) });
    everything = everythingApplied(cpu, perRound);
    contenders.push({ name: B, run: () => everything.run() });
  }
  const cyclictest = which('cyclictest');
  const ctArgs = ['-m', '-t1', `-p${RT_PRIORITY}`, '--policy=fifo', `-a${cpu}`];
  ctArgs.push(`-i${INTERVAL_US}`, `-l${perRound}`, '-q', `-h${HIST_US}`, '--default-system');
  if (cyclictest) {
    contenders.push({
      name: C,
      run: async () => {
        const { stdout } = await execFileP(cyclictest, ctArgs, {
          maxBuffer: 64 * 2 ** 20,
          timeout: perRound * INTERVAL_US * 0.01 + 30_000,
        });
        return parseCyclictestHistogram(stdout, HIST_US);
      },
    });
  } else {
    errors[C] = 'cyclictest not found on PATH (apt-get install rt-tests); row skipped';
  }
  if (!contenders.length) throw new Error(`nothing to measure: ${JSON.stringify(errors)}`);

  const stressNg = which('stress-ng');
  const workers = os.availableParallelism();
  let load = null;
  if (stressNg) {
    const estS = rounds * contenders.length * ((perRound + WARMUP_LOOPS) / 1000 + 1);
    load = await startCpuLoad({ bin: stressNg, workers, timeoutS: 2 * estS + 60, warmMs: 1000 });
  } else {
    notes.push('stress-ng not found on PATH (apt-get install stress-ng): measured WITHOUT load');
  }

  // Host steal time (a VM's vCPU descheduled by the hypervisor) during each contender's runs,
  // on the CPU it ran on: stalls no guest scheduling setting can prevent.
  const steal = Object.fromEntries(contenders.map((c) => [c.name, 0]));
  const onCpus = (name) => (name === A ? null : [String(cpu)]);
  for (const c of contenders) {
    const inner = c.run;
    c.run = async () => {
      const before = stealMs();
      const r = await inner();
      const after = stealMs();
      for (const k of onCpus(c.name) ?? Object.keys(after)) {
        steal[c.name] += (after[k] ?? 0) - (before[k] ?? 0);
      }
      return r;
    };
  }
  let samples;
  try {
    const rr = await roundRobin(contenders, { rounds, settleMs: 50, log: ctx.log });
    samples = rr.samples;
    Object.assign(errors, rr.errors);
  } finally {
    await load?.stop();
    await everything?.stop();
  }
  const hostInfo = everything ? await everything.info()?.catch(() => null) : null;
  if (hostInfo) {
    notes.push(
      `(b) host: node ${hostInfo.execArgv.join(' ')}; memory locked: ${hostInfo.locked}; thread tid ${hostInfo.tid}`,
    );
  }

  const how = {
    [A]: 'createThread(), default scheduling',
    [B0]: `createThread({ affinity: [${cpu}], priority: 'realtime' })`,
    [B]: `child node ${RT_NODE_FLAGS.join(' ')} + lockMemory + one realtime thread + periodic()`,
    [C]: `cyclictest ${ctArgs.join(' ')}`,
  };
  const rows = [];
  for (const c of contenders) {
    const s = samples[c.name];
    if (!s.length) continue;
    const all = new Float64Array(s.reduce((n, r) => n + (r.lateUs ?? r.samples).length, 0));
    let off = 0;
    for (const r of s) {
      all.set(r.lateUs ?? r.samples, off);
      off += (r.lateUs ?? r.samples).length;
    }
    const t = summarizeTail(all);
    const row = { impl: c.name, value: t.p999, p50: t.p50, p99: t.p99, p999: t.p999 };
    row.max = t.max;
    row.n = t.n;
    if (c.name === C) {
      // Exact max from cyclictest itself; overflow samples only count as ≥ HIST_US above.
      row.max = Math.max(...s.map((r) => r.max));
      row.overflows = s.reduce((n, r) => n + r.overflows, 0);
      row.sched = `SCHED_FIFO ${RT_PRIORITY}, cpus ${cpu} (cyclictest sets it)`;
      if (row.overflows && row.p999 >= HIST_US) {
        notes.push(`cyclictest p99.9 is beyond its ${HIST_US} µs histogram: a lower bound`);
      }
    } else {
      row.skipped = s.reduce((n, r) => n + (r.skipped ?? 0), 0);
      const seen = [...new Set(s.map((r) => (r.seen ? schedText(r.seen) : 'not observed')))];
      row.sched = seen.join(' | ');
      row.seen = s.map((r) => r.seen);
    }
    row.stealMs = steal[c.name];
    row.how = how[c.name];
    if (c.name === B) {
      const d = s.map((r) => r.diag ?? {});
      const sum = (k) => d.reduce((n, x) => n + (x[k] ?? 0), 0);
      row.vol = sum('vol');
      row.invol = sum('invol');
      row.minflt = sum('minflt');
      row.majflt = sum('majflt');
      row.runDelayMs = Math.round(sum('runDelayUs')) / 1000;
      const gcs = d.flatMap((x) => x.gcs ?? []);
      row.gcs = gcs.length;
      row.gcMaxMs = gcs.length ? Math.max(...gcs.map((g) => g[1])) : 0;
      const t = tailInGc(s, row.p999);
      row.tailInGc = `${t.inGc}/${t.tail}`;
      row.rounds = s.map((r, i) => ({
        round: i + 1,
        ...r.diag,
        gcs: (r.diag?.gcs ?? []).map(([at, ms, kind]) => ({
          atMs: Math.round(at),
          ms: Math.round(ms * 100) / 100,
          kind,
        })),
        maxUs: Math.max(...r.lateUs),
      }));
    }
    rows.push(row);
  }
  const byName = Object.fromEntries(rows.map((r) => [r.impl, r]));
  for (const r of rows) {
    r.vsC = byName[C] ? r.p999 / byName[C].p999 : null;
    r.vsB = byName[B] ? r.p999 / byName[B].p999 : null;
    r.vsA = byName[A] ? byName[A].p999 / r.p999 : null;
  }

  const stolen = rows
    .filter((r) => r.stealMs > 0)
    .map((r) => `${r.impl} ${Math.round(r.stealMs)} ms`);
  if (stolen.length) {
    notes.push(
      `the hypervisor took CPU time during the runs (steal: ${stolen.join(', ')}): ` +
        'stalls of that kind hit every row and inflate p99.9/max whatever the policy',
    );
  }

  const targets = [
    { text: '(b) p99.9 ≤ 2× cyclictest p99.9', impl: B, vs: C, key: 'p999', min: 0.5 },
    { text: '(b) p99.9 ≥ 5× better than (a) p99.9', impl: B, vs: A, key: 'p999', min: 5 },
    { text: '(b) p99 ≤ 1.5× cyclictest p99', impl: B, vs: C, key: 'p99', min: 1 / 1.5 },
  ];
  if (byName[B]) {
    const seen = byName[B].seen;
    const ok = seen.every(
      (x) =>
        x && x.policy === 'SCHED_FIFO' && x.rtPriority === RT_PRIORITY && x.cpus === String(cpu),
    );
    const text = `(b) really ran SCHED_FIFO ${RT_PRIORITY} on CPU ${cpu} (/proc, while measuring)`;
    targets.unshift({ text, pass: ok, measured: byName[B].sched });
    if (!ok) notes.push(`!!! realtime NOT in effect for (b): /proc showed ${byName[B].sched}`);
  }
  for (const r of rows) delete r.seen;

  return {
    unit: 'µs late (p99.9)',
    higherIsBetter: false,
    params: {
      rounds,
      perRound,
      samplesEach: rounds * perRound,
      intervalUs: INTERVAL_US,
      cpu,
      load: load ? load.desc : 'none (stress-ng not found)',
      jsWarmupLoops: WARMUP_LOOPS,
    },
    labels: {
      [A]: '(a) default worker',
      [B0]: `(b0) worker cpu${cpu} realtime`,
      [B]: `(b) everything applied, cpu${cpu}`,
      [C]: `(c) cyclictest fifo ${RT_PRIORITY} cpu${cpu}`,
    },
    columns: [
      { key: 'p50', title: 'p50 µs' },
      { key: 'p99', title: 'p99 µs' },
      { key: 'p999', title: 'p99.9 µs' },
      { key: 'max', title: 'max µs' },
      { key: 'vsC', title: 'p99.9 ÷ (c)', kind: 'ratio' },
      { key: 'vsB', title: 'p99.9 ÷ (b)', kind: 'ratio' },
      { key: 'n', title: 'n' },
      { key: 'skipped', title: 'missed' },
      { key: 'stealMs', title: 'host steal ms' },
      { key: 'vol', title: 'vol cs' },
      { key: 'invol', title: 'invol cs' },
      { key: 'minflt', title: 'minflt' },
      { key: 'majflt', title: 'majflt' },
      { key: 'runDelayMs', title: 'run delay ms' },
      { key: 'gcs', title: 'GCs' },
      { key: 'gcMaxMs', title: 'max GC ms' },
      { key: 'tailInGc', title: 'p99.9 tail in GC', kind: 'text' },
      { key: 'sched', title: 'seen in /proc while running', kind: 'text' },
    ],
    rows,
    errors,
    notes,
    targets,
  };
}
