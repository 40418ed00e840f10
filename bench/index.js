// Benchmark driver for @core/process (`npm run bench`). Runs every scenario in this one process,
// alternating implementations round-robin (core, node:child_process, execa, tinyexec, nano-spawn
// and C baselines), prints a table per scenario and a JSON summary (also bench/results.json).
//   node bench/index.js [--only=1,3] [--impl=core,cp]      BENCH_QUICK=1 for a ~1 min smoke run
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { ALL_DRIVERS } from './drivers/index.js';
import { buildC } from './lib/c.js';
import { errorText } from './lib/runner.js';
import { sig } from './lib/stats.js';
import { fmtNum, fmtRatio, renderTable } from './lib/table.js';
import * as s1 from './scenarios/1-spawn-seq.js';
import * as s2 from './scenarios/2-spawn-big-heap.js';
import * as s3 from './scenarios/3-spawn-inflight.js';
import * as s4 from './scenarios/4-pipe-throughput.js';
import * as s5 from './scenarios/5-kill-latency.js';
import * as s6 from './scenarios/6-rss-per-child.js';
import * as s7 from './scenarios/7-wait-timeout.js';
import * as s8 from './scenarios/8-rt-jitter.js';
import * as s9 from './scenarios/9-spawn-sched.js';
import * as s10 from './scenarios/10-sched-calls.js';
import * as s11 from './scenarios/11-core-overhead.js';
import * as s12 from './scenarios/12-event-fanout.js';
import * as s13 from './scenarios/13-child-process-facade.js';
import * as s16 from './scenarios/16-spawn-sandbox.js';
import * as s19 from './scenarios/19-spawn-cgroup.js';

const SCENARIOS = [s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s16, s19];
const RESULTS_FILE = new URL('./results.json', import.meta.url);

function parseArgs(argv) {
  const opts = { only: null, impl: null };
  for (const a of argv) {
    const m = /^--(only|impl)=(.*)$/.exec(a);
    if (m) {
      opts[m[1]] = m[2].split(',').map((s) => s.trim());
    } else if (a === '--help' || a === '-h') {
      opts.help = true;
    } else {
      throw Object.assign(new Error(`unknown argument ${a} (see --help)`), { usage: true });
    }
  }
  return opts;
}

const log = (msg) => process.stderr.write(`${msg}\n`);

/** value of `row` for `key` (default: the row's headline value). */
const pick = (row, key) => (key ? row[key] : row.value);

/** Ratio where > 1 always means "better than the reference". */
function betterRatio(v, ref, higherIsBetter) {
  if (!Number.isFinite(v) || !Number.isFinite(ref)) return null;
  if (higherIsBetter) return ref > 0 ? v / ref : null;
  if (v <= 0) return ref > 0 ? Number.POSITIVE_INFINITY : null;
  return ref / v;
}

function addRatios(result) {
  const keys = result.valueKeys ?? [null];
  for (const key of keys) {
    const cp = result.rows.find((r) => r.impl === 'cp');
    for (const row of result.rows) {
      const ratio = cp ? betterRatio(pick(row, key), pick(cp, key), result.higherIsBetter) : null;
      row[key ? `ratio_${key}` : 'ratio'] = ratio;
    }
  }
}

function evalTargets(result) {
  return (result.targets ?? []).map((t) => {
    // A check the scenario decided itself (e.g. "the setting was really in effect").
    if (!t.impl) return { text: t.text, pass: t.pass ?? null, measured: t.measured };
    const row = result.rows.find((r) => r.impl === t.impl);
    const ref = t.vs ? result.rows.find((r) => r.impl === t.vs) : null;
    const out = { text: t.text, pass: null, measured: null };
    if (!row || (t.vs && !ref)) {
      out.measured = `n/a (${!row ? t.impl : t.vs} not measured)`;
      return out;
    }
    const v = pick(row, t.key);
    if (t.vs) {
      const rv = pick(ref, t.key);
      const raw = rv !== 0 ? v / rv : null;
      const better = betterRatio(v, rv, result.higherIsBetter);
      out.ratio = raw === null ? null : sig(raw);
      out.measured = `${t.impl} ${fmtNum(v)} vs ${t.vs} ${fmtNum(rv)} → ${t.impl}/${t.vs} = ${fmtRatio(raw)}`;
      if (t.min !== undefined) out.pass = better !== null && better >= t.min;
    } else {
      out.measured = `${t.impl} ${fmtNum(v)}`;
      if (t.max !== undefined) out.pass = v <= t.max;
    }
    return out;
  });
}

function renderResult(result, labels) {
  const header = ['implementation', ...result.columns.map((c) => c.title)];
  const rows = result.rows.map((r) => [
    result.labels?.[r.impl] ?? labels[r.impl] ?? r.impl,
    ...result.columns.map((c) => {
      const v = r[c.key];
      if (c.kind === 'ratio') return fmtRatio(v);
      if (c.kind === 'text') return v ?? '';
      return fmtNum(v);
    }),
  ]);
  return renderTable(header, rows);
}

/** JSON-friendly copy: non-integers rounded to 4 significant digits, empty strings dropped. */
function compact(value) {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value;
    return Number.isFinite(value) ? sig(value) : String(value);
  }
  if (Array.isArray(value)) return value.map(compact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== '')
        .map(([k, v]) => [k, compact(v)]),
    );
  }
  return value;
}

/**
 * JSON.stringify with 2-space nesting, but any object or array that fits on one line of at most
 * 100 characters (e.g. one implementation's numbers) is kept on one line.
 */
function stringifyCompact(value, indent = '') {
  const flat = JSON.stringify(value);
  if (flat === undefined) return 'null';
  if (typeof value !== 'object' || value === null || indent.length + flat.length <= 100)
    return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    return `[\n${value.map((v) => inner + stringifyCompact(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  const body = entries.map(
    ([k, v]) => `${inner}${JSON.stringify(k)}: ${stringifyCompact(v, inner)}`,
  );
  return `{\n${body.join(',\n')}\n${indent}}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(
      'usage: node bench/index.js [--only=1,3] [--impl=core,cp,execa,tinyexec,nano-spawn]',
    );
    console.log('       BENCH_QUICK=1 for a short smoke run');
    return;
  }
  const quick = process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';
  const started = performance.now();
  const scenarios = opts.only
    ? SCENARIOS.filter((s) => opts.only.includes(String(s.id)))
    : SCENARIOS;

  const c = buildC();
  if (!c.ok) console.log(`C baselines skipped: ${c.reason}`);

  const drivers = [];
  const skipped = {};
  const labels = { c: 'C baseline', 'c-pipe-64k': 'C pipe 64K', 'c-pipe-1m': 'C pipe 1M' };
  labels['c-sockpair'] = 'C socketpair 64K';
  for (const d of ALL_DRIVERS) {
    labels[d.name] = d.name === 'cp' ? 'child_process' : d.name;
    if (opts.impl && !opts.impl.includes(d.name)) continue;
    try {
      await d.load();
      drivers.push(d);
    } catch (err) {
      skipped[d.name] = errorText(err);
      console.log(`${d.label} skipped: ${skipped[d.name]}`);
    }
  }

  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpus: `${os.cpus().length}× ${os.cpus()[0]?.model ?? '?'}`,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: { start: os.loadavg().map((x) => sig(x, 3)) },
    quick,
    ratio: 'ratio = improvement over node:child_process; > 1 is better (faster, less, sooner)',
    implementations: drivers.map((d) => d.name),
    skipped,
    cBaselines: c.ok ? 'built with cc -O2' : `skipped: ${c.reason}`,
  };
  console.log(
    `@core/process bench — node ${meta.node}, ${meta.platform}, ${meta.cpus}${quick ? ' — QUICK' : ''}`,
  );
  console.log('ratios "vs cp": > 1 means better than node:child_process (faster / less / sooner)');
  if (meta.loadavg.start[0] > 0.5) {
    console.log(
      `warning: the machine is busy (load average ${meta.loadavg.start.join(' ')}); numbers will be noisy`,
    );
  }

  const ctx = { drivers, c, quick, log };
  const report = { meta, scenarios: {} };
  try {
    for (const s of scenarios) {
      log(`[${s.id}] ${s.title} ...`);
      const t0 = performance.now();
      let result;
      try {
        result = await s.run(ctx);
      } catch (err) {
        console.log(`\n[${s.id}] ${s.title}\n  SCENARIO FAILED: ${err?.stack ?? err}`);
        report.scenarios[s.id] = { title: s.title, failed: errorText(err) };
        continue;
      }
      addRatios(result);
      const targets = evalTargets(result);
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `\n[${s.id}] ${s.title}  (${seconds.toFixed(1)} s, ${JSON.stringify(result.params)})`,
      );
      console.log(renderResult(result, labels));
      for (const [impl, e] of Object.entries(result.errors ?? {}))
        console.log(`  ERROR ${impl}: ${e}`);
      for (const note of result.notes ?? []) console.log(`  note: ${note}`);
      for (const t of targets) {
        const mark = t.pass === null ? 'info' : t.pass ? 'PASS' : 'FAIL';
        console.log(`  [${mark}] ${t.text}: ${t.measured}`);
      }
      report.scenarios[s.id] = compact({
        title: s.title,
        unit: result.unit,
        higherIsBetter: result.higherIsBetter,
        params: result.params,
        seconds,
        results: Object.fromEntries(result.rows.map(({ impl, ...rest }) => [impl, rest])),
        errors: result.errors,
        notes: result.notes?.length ? result.notes : undefined,
        targets,
      });
    }
  } finally {
    c.cleanup();
  }
  report.meta.totalSeconds = sig((performance.now() - started) / 1000);
  report.meta.loadavg.end = os.loadavg().map((x) => sig(x, 3));
  const json = stringifyCompact(report);
  writeFileSync(RESULTS_FILE, `${json}\n`);
  console.log(`\nJSON (also written to bench/results.json):\n${json}`);
  log(`done in ${report.meta.totalSeconds} s`);
}

main().catch((err) => {
  console.error(err?.usage ? err.message : (err?.stack ?? err));
  process.exitCode = 1;
});
