#!/usr/bin/env node
// Stress harness (`npm run stress`): spawns STRESS_COUNT short children (default 100,000),
// STRESS_INFLIGHT at a time (default 64), over a fixed mix of stdio modes, kills, timeouts,
// non-zero exits and run() calls, then checks from outside the library that nothing was
// left behind: no zombie (or live) children of this process in /proc, no growth of
// /proc/self/fd, bounded RSS growth after a forced GC, and every exit observed exactly once
// with the status its scenario implies. Prints progress every ~5% and a summary table;
// exits 1 when any check fails.
//
//   STRESS_COUNT=5000 npm run stress
//   STRESS_LIB=file:///path/to/index.js   the library to test (default: ../dist/index.js;
//                                         a copy outside this checkout needs CORE_PROCESS_ADDON)
//   STRESS_RSS_BOUND_MB=32                allowed RSS growth after GC
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`stress: ${name}=${JSON.stringify(raw)} must be a positive integer`);
    process.exit(2);
  }
  return n;
}

const COUNT = intEnv('STRESS_COUNT', 100_000);
const INFLIGHT = intEnv('STRESS_INFLIGHT', 64);
const RSS_BOUND_MB = intEnv('STRESS_RSS_BOUND_MB', 32);
// Descriptors the runtime may legitimately hold at the end but not at the start (none are
// expected: the warm-up creates the library's and libuv's lazily opened ones).
const FD_SLACK = 2;

function libUrl() {
  const raw = process.env.STRESS_LIB;
  if (raw === undefined || raw === '') return new URL('../dist/index.js', import.meta.url).href;
  return raw.startsWith('file:') ? raw : pathToFileURL(path.resolve(raw)).href;
}

const LIB = libUrl();
const lib = await import(LIB);
const { ProcessError, ProcessHandle, run, spawn } = lib;

// `node --expose-gc` (as `npm run stress` runs it) or the V8 flag set at run time.
function forcedGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc');
}
const gc = forcedGc();

// ---------------------------------------------------------------------------------------
// Observers: the kernel's view, not the library's.

function procStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return null; // gone, or raced with its exit
  }
}

/** Our children as /proc shows them: zombies (state Z) and anything else still there. */
function ourChildren() {
  const zombies = [];
  const live = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(name);
    if (s === null || s.ppid !== process.pid) continue;
    (s.state === 'Z' ? zombies : live).push(Number(name));
  }
  return { zombies, live };
}

const fdCount = () => fs.readdirSync('/proc/self/fd').length;
const mib = (bytes) => bytes / (1024 * 1024);

async function collectGarbage() {
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------
// Accounting: every exit must be seen exactly once.

const problems = [];
let problemCount = 0;
function problem(i, scenario, text) {
  problemCount++;
  if (problems.length < 40) problems.push(`#${i} ${scenario}: ${text}`);
}

let spawned = 0; // children started (spawn() returned, or run() got past its spawn)
let exitedResolved = 0; // `exited` promises of spawn() children that resolved
let runSettled = 0; // run() calls that resolved or rejected with a status
let nativeExits = 0; // exit callbacks from the addon, over all children
let nativeDuplicates = 0; // a second exit callback for the same child
const exitCalls = new WeakMap();

// Count the addon's exit callbacks per handle (run()'s own children included).
const originalOnExit = ProcessHandle?.prototype?._onExit;
const canCountCallbacks = typeof originalOnExit === 'function';
if (canCountCallbacks) {
  ProcessHandle.prototype._onExit = function countedOnExit(raw) {
    const n = (exitCalls.get(this) ?? 0) + 1;
    exitCalls.set(this, n);
    nativeExits++;
    if (n > 1) nativeDuplicates++;
    return originalOnExit.call(this, raw);
  };
}

function started(child) {
  spawned++;
  child.exited.then(() => {
    exitedResolved++;
  });
  return child;
}

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', reject);
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function expectStatus(i, name, s, want) {
  const got = `code ${s.code} signal ${s.signal}${s.lost ? ' (lost)' : ''}`;
  const wanted = `code ${want.code ?? null} signal ${want.signal ?? null}`;
  if (s.code !== (want.code ?? null) || s.signal !== (want.signal ?? null) || s.lost) {
    problem(i, name, `${got}, want ${wanted}`);
  }
}

const QUIET = { stdin: 'null', stdout: 'null', stderr: 'null' };
// 5..20 ms, against a `sleep 30` the timeout must end: a loop stalled by load (the sanitizer
// run) must not let the child finish first and look like a timeout that did not fire.
const timeoutMs = (i) => 5 + (i % 16);
const exitCode = (i) => 2 + (i % 250);
const payload = (i) => `${`in-${i}-`.repeat(1 + (i % 400))}\n`; // up to ~4 KiB

let socketpair = true;

// One entry per scenario; the cycle below gives their shares of the mix.
const SCENARIOS = {
  async null(i) {
    const c = started(spawn({ program: '/bin/true', ...QUIET }));
    expectStatus(i, 'null', await c.exited, { code: 0 });
  },
  async pipe(i) {
    const c = started(spawn({ program: '/bin/echo', args: [`p${i}`], ...QUIET, stdout: 'pipe' }));
    const [out, s] = await Promise.all([readAll(c.stdout), c.exited]);
    expectStatus(i, 'pipe', s, { code: 0 });
    if (out !== `p${i}\n`) problem(i, 'pipe', `stdout ${JSON.stringify(out)}`);
  },
  async socketpair(i) {
    const mode = socketpair ? 'socketpair' : 'pipe';
    const c = started(spawn({ program: '/bin/echo', args: [`s${i}`], ...QUIET, stdout: mode }));
    const [out, s] = await Promise.all([readAll(c.stdout), c.exited]);
    expectStatus(i, 'socketpair', s, { code: 0 });
    if (out !== `s${i}\n`) problem(i, 'socketpair', `stdout ${JSON.stringify(out)}`);
  },
  async file(i) {
    // 'inherit' for stdin and stderr (echo uses neither), stdout to a file: /dev/null.
    const c = started(
      spawn({
        program: '/bin/echo',
        args: [`f${i}`],
        stdin: 'inherit',
        stdout: { file: '/dev/null' },
        stderr: 'inherit',
      }),
    );
    expectStatus(i, 'file', await c.exited, { code: 0 });
  },
  async stdin(i) {
    const c = started(spawn({ program: 'cat', stdin: 'pipe', stdout: 'pipe', stderr: 'null' }));
    const input = payload(i);
    c.stdin.end(input);
    const [out, s] = await Promise.all([readAll(c.stdout), c.exited]);
    expectStatus(i, 'stdin', s, { code: 0 });
    if (out !== input) problem(i, 'stdin', `echoed ${out.length} bytes of ${input.length}`);
  },
  async unread(i) {
    // Pipes nobody ever looks at: their descriptors must still be released.
    const c = started(
      spawn({
        program: '/bin/echo',
        args: [`u${i}`],
        stdin: 'null',
        stdout: 'pipe',
        stderr: 'pipe',
      }),
    );
    expectStatus(i, 'unread', await c.exited, { code: 0 });
  },
  async killKill(i) {
    const c = started(spawn({ program: 'sleep', args: ['5'], ...QUIET }));
    if (c.kill('SIGKILL') !== true) problem(i, 'kill-SIGKILL', 'kill() returned false');
    expectStatus(i, 'kill-SIGKILL', await c.exited, { signal: 'SIGKILL' });
  },
  async killTerm(i) {
    const c = started(spawn({ program: 'sleep', args: ['5'], ...QUIET }));
    if (c.kill('SIGTERM') !== true) problem(i, 'kill-SIGTERM', 'kill() returned false');
    expectStatus(i, 'kill-SIGTERM', await c.exited, { signal: 'SIGTERM' });
  },
  async timeout(i) {
    const c = started(spawn({ program: 'sleep', args: ['30'], ...QUIET, timeout: timeoutMs(i) }));
    const s = await c.exited;
    expectStatus(i, 'timeout', s, { signal: 'SIGTERM' });
    if (c.timedOut !== true) problem(i, 'timeout', 'timedOut is not true');
  },
  async false(i) {
    const c = started(spawn({ program: '/bin/false', ...QUIET }));
    expectStatus(i, 'false', await c.exited, { code: 1 });
  },
  async exitN(i) {
    const c = started(spawn({ program: 'sh', args: ['-c', `exit ${exitCode(i)}`], ...QUIET }));
    expectStatus(i, 'exit-n', await c.exited, { code: exitCode(i) });
  },
  async stderr(i) {
    const c = started(
      spawn({ program: 'ls', args: [`/nonexistent-stress-${i}`], ...QUIET, stderr: 'pipe' }),
    );
    const [err, s] = await Promise.all([readAll(c.stderr), c.exited]);
    expectStatus(i, 'stderr', s, { code: 2 });
    if (!err.includes(`nonexistent-stress-${i}`)) problem(i, 'stderr', `stderr ${err}`);
  },
  async run(i) {
    const r = await runCounted(() => run('/bin/echo', [`r${i}`]));
    expectStatus(i, 'run', r.status, { code: 0 });
    if (r.stdout !== `r${i}\n`) problem(i, 'run', `stdout ${JSON.stringify(r.stdout)}`);
  },
  async runInput(i) {
    const input = payload(i);
    const r = await runCounted(() => run('cat', [], { input }));
    expectStatus(i, 'run-input', r.status, { code: 0 });
    if (r.stdout !== input) problem(i, 'run-input', `echoed ${r.stdout.length} of ${input.length}`);
  },
  async runNonZero(i) {
    const e = await runRejected(i, 'run-nonzero', () => run('sh', ['-c', `exit ${exitCode(i)}`]));
    if (e === null) return;
    if (e.kind !== 'NonZeroExit' || e.code !== exitCode(i)) {
      problem(i, 'run-nonzero', `kind ${e.kind} code ${e.code}`);
    }
    expectStatus(i, 'run-nonzero', e.status, { code: exitCode(i) });
  },
  async runTimeout(i) {
    const e = await runRejected(i, 'run-timeout', () =>
      run('sleep', ['30'], { timeout: timeoutMs(i) }),
    );
    if (e === null) return;
    if (e.kind !== 'TimedOut') problem(i, 'run-timeout', `kind ${e.kind}`);
    expectStatus(i, 'run-timeout', e.status, { signal: 'SIGTERM' });
  },
};

// run() hides its handle: count the child as started once run() returns a status, either
// way. A spawn failure (no status) is a problem of its own.
async function runCounted(fn) {
  try {
    const r = await fn();
    spawned++;
    runSettled++;
    return r;
  } catch (e) {
    if (e instanceof ProcessError && e.status !== undefined) {
      spawned++;
      runSettled++;
    }
    throw e;
  }
}

async function runRejected(i, name, fn) {
  try {
    const r = await runCounted(fn);
    problem(i, name, `resolved with code ${r.status.code} signal ${r.status.signal}`);
    return null;
  } catch (e) {
    if (!(e instanceof ProcessError) || e.status === undefined) throw e;
    return e;
  }
}

// 20 slots: 25% plain, 45% other stdio and exit shapes, 10% killed, 20% via run();
// timeouts are 10% of the mix (5..20 ms each).
const CYCLE = [
  'null',
  'null',
  'null',
  'null',
  'pipe',
  'pipe',
  'socketpair',
  'file',
  'stdin',
  'unread',
  'killKill',
  'killTerm',
  'timeout',
  'false',
  'exitN',
  'stderr',
  'run',
  'runInput',
  'runNonZero',
  'runTimeout',
];
const LABEL = {
  killKill: 'kill-SIGKILL',
  killTerm: 'kill-SIGTERM',
  exitN: 'exit-n',
  runInput: 'run-input',
  runNonZero: 'run-nonzero',
  runTimeout: 'run-timeout',
};
const label = (key) => LABEL[key] ?? key;
const perScenario = new Map(CYCLE.map((k) => [label(k), 0]));

async function one(i) {
  const key = CYCLE[i % CYCLE.length];
  perScenario.set(label(key), perScenario.get(label(key)) + 1);
  try {
    await SCENARIOS[key](i);
  } catch (e) {
    problem(
      i,
      label(key),
      `threw ${e?.kind ?? e?.name ?? 'error'} ${e?.code ?? ''}: ${e?.message}`,
    );
  }
}

// ---------------------------------------------------------------------------------------

// Is 'socketpair' a stdio mode of this build?
try {
  const probe = spawn({ program: '/bin/true', ...QUIET, stdout: 'socketpair' });
  probe.stdout?.resume();
  await probe.exited;
} catch (e) {
  if (!(e instanceof ProcessError) || !['InvalidCommand', 'Unsupported'].includes(e.kind)) throw e;
  socketpair = false;
}

// Warm-up: one of each scenario, so lazily created state (the addon's /dev/null descriptor,
// libuv's signal pipe, V8's code for every path) exists before the baseline is taken.
for (let i = 0; i < CYCLE.length; i++) await SCENARIOS[CYCLE[i]](i);
await sleep(50);
if (problemCount > 0) {
  console.error(`stress: the warm-up already failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
spawned = 0;
exitedResolved = 0;
runSettled = 0;
nativeExits = 0;
nativeDuplicates = 0;
await collectGarbage();
const fdBefore = fdCount();
const rssBefore = process.memoryUsage.rss();
const heapBefore = process.memoryUsage().heapUsed;

console.log(
  `stress: ${COUNT} children, ${INFLIGHT} in flight, lib ${LIB}, node ${process.version}, pid ${process.pid}` +
    `${socketpair ? '' : " ('socketpair' unsupported: pipe instead)"}`,
);

const t0 = performance.now();
let next = 0;
let done = 0;
// Report at every 5% of COUNT (fewer lines when COUNT < 20).
const marks = [...new Set(Array.from({ length: 20 }, (_, k) => Math.ceil((COUNT * (k + 1)) / 20)))];
let lastReport = { t: t0, spawned: 0 };

function progress() {
  if (done < marks[0]) return;
  while (marks.length > 0 && done >= marks[0]) marks.shift();
  const now = performance.now();
  const rate = (spawned / (now - t0)) * 1000;
  const recent = ((spawned - lastReport.spawned) / (now - lastReport.t)) * 1000;
  lastReport = { t: now, spawned };
  const pct = `${Math.floor((done / COUNT) * 100)}%`.padStart(4);
  console.log(
    `[${pct}] ${String(done).padStart(String(COUNT).length)}/${COUNT} done, ` +
      `${rate.toFixed(0)} spawns/s (last interval ${recent.toFixed(0)}/s), ` +
      `${((now - t0) / 1000).toFixed(1)} s, rss ${mib(process.memoryUsage.rss()).toFixed(1)} MiB, ` +
      `problems ${problemCount}`,
  );
}

async function lane() {
  while (next < COUNT) {
    const i = next++;
    await one(i);
    done++;
    progress();
  }
}
await Promise.all(Array.from({ length: Math.min(INFLIGHT, COUNT) }, lane));
const elapsedMs = performance.now() - t0;

// The addon closes a reaped child's pidfd one loop turn after `exited`, and streams emit
// 'close' a turn after 'end': let those land before counting.
await sleep(100);
const children = ourChildren();
await collectGarbage();
const fdAfter = fdCount();
const rssAfter = process.memoryUsage.rss();
const heapAfter = process.memoryUsage().heapUsed;

// ---------------------------------------------------------------------------------------
// Summary

const observed = exitedResolved + runSettled;
const rssGrowth = mib(rssAfter - rssBefore);
const checks = [
  ['children spawned', `${spawned} of ${COUNT}`, spawned === COUNT],
  [
    'exits observed once',
    `${observed}/${spawned} (exited ${exitedResolved}, run ${runSettled})` +
      (canCountCallbacks
        ? `; addon callbacks ${nativeExits}, duplicates ${nativeDuplicates}`
        : '; addon callbacks not countable'),
    observed === spawned &&
      (!canCountCallbacks || (nativeExits === spawned && nativeDuplicates === 0)),
  ],
  ['status consistency', `${problemCount} mismatches`, problemCount === 0],
  ['zombie children', String(children.zombies.length), children.zombies.length === 0],
  ['live children left', String(children.live.length), children.live.length === 0],
  [
    'fd count',
    `before ${fdBefore}, after ${fdAfter} (delta ${fdAfter - fdBefore}, allowed ${FD_SLACK})`,
    fdAfter - fdBefore <= FD_SLACK,
  ],
  [
    'RSS after GC',
    `before ${mib(rssBefore).toFixed(1)} MiB, after ${mib(rssAfter).toFixed(1)} MiB ` +
      `(delta ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)} MiB, bound ${RSS_BOUND_MB} MiB)`,
    rssGrowth < RSS_BOUND_MB,
  ],
];
const info = [
  [
    'duration',
    `${(elapsedMs / 1000).toFixed(1)} s (${((spawned / elapsedMs) * 1000).toFixed(0)} spawns/s)`,
  ],
  [
    'heap used after GC',
    `before ${mib(heapBefore).toFixed(1)} MiB, after ${mib(heapAfter).toFixed(1)} MiB`,
  ],
  ['mix', [...perScenario].map(([k, n]) => `${k} ${n}`).join(', ')],
];

const width = Math.max(...[...checks, ...info].map(([name]) => name.length));
const valueWidth = Math.max(...checks.map(([, value]) => value.length));
console.log('\nstress summary');
for (const [name, value, ok] of checks) {
  console.log(`  ${name.padEnd(width)}  ${value.padEnd(valueWidth)}  ${ok ? 'ok' : 'FAIL'}`);
}
for (const [name, value] of info) console.log(`  ${name.padEnd(width)}  ${value}`);
if (children.zombies.length > 0) console.log(`  zombie pids: ${children.zombies.slice(0, 20)}`);
if (children.live.length > 0) console.log(`  live pids: ${children.live.slice(0, 20)}`);
if (problems.length > 0) {
  console.log(`  first problems (${problemCount} in all):`);
  for (const p of problems) console.log(`    ${p}`);
}
const failed = checks.filter(([, , ok]) => !ok).map(([name]) => name);
console.log(failed.length === 0 ? 'RESULT: PASS' : `RESULT: FAIL (${failed.join(', ')})`);
process.exit(failed.length === 0 ? 0 : 1);
