// Scenario 19: what a cgroup costs at spawn. Sequential spawn+wait of /bin/true (stdio null),
// interleaved call by call so every row sees the same machine:
//   core           plain spawn
//   core-cgroup    spawn({ containment: 'cgroup' }): a fresh cgroup v2 directory per child,
//                  entered by clone3(CLONE_INTO_CGROUP) where the kernel has it (5.7+), else
//                  by the child writing cgroup.procs (CORE_PROCESS_NO_CLONE3=1 forces that)
//   core-limits    spawn({ limits: { pids: 1024 } }): the same plus the pids controller (v2
//                  where enabled, else a v1 cgroup the child joins through cgroup.procs)
//   cp             node:child_process, plain
//   c              the C posix_spawn + waitpid loop of scenario 1 (the floor)
// Each cgroup is made before and removed after its child (the directory goes once empty).
// The spawn() call alone (where the parent waits for the child to enter its cgroup and exec)
// is timed too, its median reported per row. Before timing, one contained child prints /proc/self/cgroup: its v2 line must name a cgroup
// of ours, or the rows are reported but not judged. The spawn path ('clone3' or 'clone') of
// that child is reported with the rows.
import { spawn as cpSpawn } from 'node:child_process';
import { once } from 'node:events';
import { expectSuccess } from '../drivers/common.js';
import { runC } from '../lib/c.js';
import { TRUE_BIN } from '../lib/proc.js';
import { errorText, hrNow, interleaved, nsSince } from '../lib/runner.js';
import { opsRows } from '../lib/stats.js';

export const id = 19;
export const title = "spawn+wait into a cgroup (containment 'cgroup', limits) vs plain";

function cpRun(file, args) {
  const child = cpSpawn(file, args, { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      try {
        expectSuccess(file, code, signal);
        resolve();
      } catch (err) {
        reject(err);
      }
    });
  });
}

// The child's own view of its cgroup v2 membership, printed by itself.
async function verify(lib, extra) {
  const child = lib.spawn({
    program: '/bin/cat',
    args: ['/proc/self/cgroup'],
    stdin: 'null',
    stdout: 'pipe',
    stderr: 'null',
    ...extra,
  });
  const chunks = [];
  child.stdout.on('data', (c) => chunks.push(c));
  const [status] = await Promise.all([child.exited, once(child.stdout, 'end')]);
  expectSuccess('cat', status.code, status.signal);
  const v2 = /^0::(.*)$/m.exec(Buffer.concat(chunks).toString('latin1'))?.[1] ?? '';
  return { ok: /\/core-process\.\d+\.\d+\.\d+$/.test(v2), v2, method: child.spawnMethod };
}

export async function run(ctx) {
  const rounds = Number(process.env.BENCH_ROUNDS) || (ctx.quick ? 2 : 6);
  const perRound = ctx.quick ? 30 : 100;
  const warmup = 10;
  const errors = {};
  const notes = [];
  const targets = [];
  const ops = {};
  const seen = {};
  const callNs = {};

  const core = ctx.drivers.find((d) => d.name === 'core');
  if (core) {
    const lib = core.api('spawn');
    const base = { program: TRUE_BIN, args: [], stdin: 'null', stdout: 'null', stderr: 'null' };
    // The spawn() call alone, timed too: that is where clone3 and the join differ (the
    // parent waits there until the child has entered its cgroup and exec'd).
    const spawnWait = async (name, opts) => {
      const a = hrNow();
      const child = lib.spawn(opts);
      callNs[name] ??= [];
      callNs[name].push(nsSince(a));
      const status = await child.exited;
      expectSuccess(TRUE_BIN, status.code, status.signal);
    };
    ops.core = () => spawnWait('core', base);
    for (const [name, extra] of [
      ['core-cgroup', { containment: 'cgroup' }],
      ['core-limits', { limits: { pids: 1024 } }],
    ]) {
      try {
        const v = await verify(lib, extra);
        seen[name] = { cgroup: v.v2, spawnMethod: v.method };
        if (!v.ok) {
          notes.push(`${name}: the child's v2 cgroup is '${v.v2}', not one of ours: not judged`);
        }
        const opts = { ...base, ...extra };
        ops[name] = () => spawnWait(name, opts);
      } catch (err) {
        errors[name] = `verification spawn failed: ${errorText(err)}`;
      }
    }
  }
  if (ctx.drivers.some((d) => d.name === 'cp')) ops.cp = () => cpRun(TRUE_BIN, []);

  for (const [name, op] of Object.entries(ops)) {
    try {
      for (let i = 0; i < warmup; i++) await op();
    } catch (err) {
      errors[name] = `warm-up: ${errorText(err)}`;
      delete ops[name];
    }
  }
  for (const k of Object.keys(callNs)) callNs[k] = [];
  const rr = await interleaved(ops, { rounds, perRound, log: ctx.log });
  const spawnCallUs = Object.fromEntries(
    Object.entries(callNs).map(([k, v]) => {
      const sorted = [...v].sort((x, y) => x - y);
      return [k, Math.round(sorted[Math.floor(sorted.length / 2)] / 1e3)];
    }),
  );
  notes.push(`spawn() call alone, median µs: ${JSON.stringify(spawnCallUs)}`);
  Object.assign(errors, rr.errors);
  const samples = { ...rr.samples };
  const contenders = Object.keys(ops).map((name) => ({ name }));
  if (ctx.c.ok) {
    // The C floor runs on its own after the interleaved rows (it is one process).
    const lat = [];
    for (let r = 0; r < rounds; r++) {
      lat.push(await runC(ctx.c.bins.spawn_loop, ['seq', String(perRound), TRUE_BIN]));
    }
    samples.c = lat;
    contenders.push({ name: 'c' });
  }
  const rows = opsRows(contenders, samples);
  const corePlain = rows.find((r) => r.impl === 'core');
  for (const r of rows) r.cost = corePlain ? corePlain.value / r.value : null;
  targets.push(
    { text: "containment 'cgroup' vs core plain (report)", impl: 'core-cgroup', vs: 'core' },
    { text: 'limits { pids } vs core plain (report)', impl: 'core-limits', vs: 'core' },
    { text: "containment 'cgroup' vs cp plain (report)", impl: 'core-cgroup', vs: 'cp' },
  );
  return {
    unit: 'ops/s',
    higherIsBetter: true,
    params: {
      rounds,
      perRound,
      program: TRUE_BIN,
      clone3: process.env.CORE_PROCESS_NO_CLONE3 ? 'off (CORE_PROCESS_NO_CLONE3)' : 'auto',
      seen,
      spawnCallUs,
    },
    columns: [
      { key: 'value', title: 'ops/s (median)' },
      { key: 'ratio', title: 'vs cp', kind: 'ratio' },
      { key: 'cost', title: 'core plain ÷ row' },
      { key: 'p50', title: 'p50 µs' },
      { key: 'p99', title: 'p99 µs' },
    ],
    rows,
    errors,
    notes,
    targets,
  };
}
