// Scenario 6: parent memory per running child. For each implementation and mode a fresh
// `node --expose-gc` worker (this same file, run with --worker) starts N `sleep 60` children
// and reports the growth of process.memoryUsage().rss after a full GC, divided by N; then it
// kills and reaps them all. Separate processes keep one implementation's heap out of another's.
// Modes: 'null' (stdio null/ignore); 'pipe' (all three piped, streams left as the library made
// them: core creates its streams lazily, execa/nano-spawn/tinyexec buffer output by default);
// 'pipe-read' (all piped, and the parent listens for 'data' on stdout and stderr as a user
// collecting output does, which makes every implementation materialise its streams).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { roundRobin } from '../lib/runner.js';
import { median } from '../lib/stats.js';

export const id = 6;
export const title = 'parent RSS per running child (sleep 60): stdio null, pipe, pipe read';

const SELF = fileURLToPath(import.meta.url);
const execFileP = promisify(execFile);
/** [mode name, result key] */
const MODES = [
  ['null', 'null'],
  ['pipe', 'pipe'],
  ['pipe-read', 'pipeRead'],
];

async function runWorker(impl, mode, count) {
  const { stdout } = await execFileP(
    process.execPath,
    ['--expose-gc', SELF, '--worker', impl, mode, String(count)],
    { timeout: 120_000, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop());
}

export async function run(ctx) {
  const rounds = ctx.quick ? 1 : 2;
  const count = ctx.quick ? 100 : 500;
  const contenders = [];
  for (const d of ctx.drivers) {
    for (const [mode] of MODES) {
      contenders.push({ name: `${d.name}/${mode}`, run: () => runWorker(d.name, mode, count) });
    }
  }
  const { samples, errors } = await roundRobin(contenders, {
    rounds,
    gcBetween: false,
    log: ctx.log,
  });
  const rows = [];
  for (const d of ctx.drivers) {
    const row = { impl: d.name };
    for (const [mode, key] of MODES) {
      const s = samples[`${d.name}/${mode}`];
      if (!s.length) continue;
      row[key] = median(s.map((x) => x.rssPerChildKiB));
      row[`${key}Heap`] = median(s.map((x) => x.heapPerChildKiB));
      row[`${key}Rounds`] = s.map((x) => x.rssPerChildKiB);
    }
    if (MODES.some(([, key]) => row[key] !== undefined)) rows.push(row);
  }
  return {
    unit: 'KiB RSS per child',
    higherIsBetter: false,
    valueKeys: MODES.map(([, key]) => key),
    params: { rounds, children: count, program: '/bin/sleep 60', node: '--expose-gc worker' },
    columns: [
      { key: 'null', title: 'null KiB' },
      { key: 'ratio_null', title: 'vs cp', kind: 'ratio' },
      { key: 'pipe', title: 'pipe KiB' },
      { key: 'ratio_pipe', title: 'vs cp', kind: 'ratio' },
      { key: 'pipeRead', title: 'pipe-read KiB' },
      { key: 'ratio_pipeRead', title: 'vs cp', kind: 'ratio' },
      { key: 'nullHeap', title: 'heap+ext null' },
      { key: 'pipeReadHeap', title: 'heap+ext pipe-read' },
    ],
    rows,
    errors,
    targets: MODES.map(([mode, key]) => ({
      text: `core RSS/child ≤ 0.5× cp (${mode})`,
      impl: 'core',
      vs: 'cp',
      key,
      min: 2,
    })),
  };
}

// ---- worker side: `node --expose-gc 6-rss-per-child.js --worker IMPL MODE COUNT` ----

async function worker(impl, mode, count) {
  const { driverByName } = await import('../drivers/index.js');
  const { SLEEP_BIN, TRUE_BIN, delay, isAlive } = await import('../lib/proc.js');
  const gc = globalThis.gc;
  if (typeof gc !== 'function') throw new Error('worker needs --expose-gc');
  const d = driverByName(impl);
  await d.load();
  const stdio = mode === 'null' ? 'null' : 'pipe';
  const noop = () => {};
  const listen = (h) => {
    if (mode !== 'pipe-read') return;
    const [, out, err] = h.streams();
    if (!out || !err) throw new Error(`${impl}: no stdout/stderr stream with stdio 'pipe'`);
    out.on('data', noop);
    err.on('data', noop);
  };

  // Warm up the exact code paths (module init, stdio mode, exit watching) before the baseline.
  for (let i = 0; i < 5; i++) await d.spawnTrue(TRUE_BIN);
  const warm = [];
  for (let i = 0; i < 5; i++) warm.push(d.spawnSleep(SLEEP_BIN, ['60'], { stdio }));
  await Promise.all(warm.map((h) => h.ready));
  for (const h of warm) listen(h);
  for (const h of warm) h.kill('SIGKILL');
  await Promise.all(warm.map((h) => h.exited));
  for (const h of warm) h.destroyStreams();
  await delay(50);

  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await delay(20);
    }
  };
  await settle();
  const before = process.memoryUsage();

  const handles = [];
  try {
    for (let i = 0; i < count; i++) handles.push(d.spawnSleep(SLEEP_BIN, ['60'], { stdio }));
    await Promise.all(handles.map((h) => h.ready));
    for (const h of handles) listen(h);
    await delay(100);
    await settle();
    const after = process.memoryUsage();
    const alive = handles.filter((h) => isAlive(h.pid)).length;
    if (alive !== count) throw new Error(`only ${alive}/${count} children alive at measurement`);
    const kib = (a, b) => (a - b) / 1024 / count;
    return {
      impl,
      mode,
      count,
      rssBefore: before.rss,
      rssAfter: after.rss,
      rssPerChildKiB: kib(after.rss, before.rss),
      heapPerChildKiB: kib(after.heapUsed + after.external, before.heapUsed + before.external),
    };
  } finally {
    for (const h of handles) {
      try {
        h.kill('SIGKILL');
      } catch {}
    }
    await Promise.race([Promise.allSettled(handles.map((h) => h.exited)), delay(10_000)]);
    for (const h of handles) h.destroyStreams();
    const left = handles.filter((h) => h.pid && isAlive(h.pid));
    for (const h of left) {
      try {
        process.kill(h.pid, 'SIGKILL');
      } catch {}
    }
    if (left.length) process.stderr.write(`warning: ${left.length} children not reaped\n`);
  }
}

if (process.argv[1] === SELF && process.argv[2] === '--worker') {
  const [impl, mode, count] = process.argv.slice(3);
  worker(impl, mode, Number(count)).then(
    (res) => {
      process.stdout.write(`${JSON.stringify(res)}\n`);
      process.exit(0);
    },
    (err) => {
      process.stderr.write(`${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
