// Scenario 4: throughput of a child's stdout pipe — a writer (c/writer.c) pushes 1 GiB, the parent
// counts and discards it. C baselines read the same writer through a default 64 KiB pipe with a
// 64 KiB buffer, through a pipe grown to 1 MiB (F_SETPIPE_SZ) with a 1 MiB buffer, and through an
// AF_UNIX socketpair with a 64 KiB buffer (what libuv gives node:child_process children).
// CPU placement matters a lot on 2 cores, so three placements are measured, alternating:
//   unpinned  the scheduler decides (what users get; the headline and the targets)
//   same      the bench process (so the reader) and the writer pinned to one CPU
//   cross     the bench process on one CPU, the writer pinned to the other
// BENCH_PIN=0 measures only 'unpinned'.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runC } from '../lib/c.js';
import { cpuAffinity, pinSelf } from '../lib/proc.js';
import { hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { median } from '../lib/stats.js';

export const id = 4;
export const title = 'child stdout → parent throughput (count and discard)';

// Pause after the GC between runs so V8's background threads (freeing the previous run's
// buffers) are not competing with the next run.
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 100);
// The last field: the C loop also writes every chunk to a file (`cat > file`), the peer of
// the pipeTo(file) rows.
const C_VARIANTS = [
  ['c-pipe-64k', '65536', 'pipe', '0', 'C read() 64 KiB buffer, 64 KiB pipe'],
  ['c-pipe-1m', '1048576', 'pipe', '1048576', 'C read() 1 MiB buffer, 1 MiB pipe'],
  ['c-sockpair', '65536', 'socketpair', '0', 'C read() 64 KiB buffer, socketpair'],
  ['c-cat-file', '65536', 'pipe', '0', 'C read()+write() 64 KiB to a file (cat > file)', true],
];
const OUT_FILE = join(tmpdir(), `core-process-bench-4-${process.pid}.out`);

/** [name, CPU for the bench process (null: unpinned), CPU the writer pins itself to (-1: none)] */
function placements(ctx) {
  const list = [['unpinned', null, -1]];
  if (process.env.BENCH_PIN === '0') return { list, desc: 'unpinned only (BENCH_PIN=0)' };
  const aff = cpuAffinity();
  if (aff.error || aff.cpus.length < 2) {
    const why = aff.error ?? 'only one CPU allowed';
    ctx.log(`  pinned placements skipped: ${why}`);
    return { list, desc: `unpinned only (${why})` };
  }
  const [a, b] = aff.cpus;
  list.push(['same', a, a], ['cross', a, b]);
  return {
    list,
    restoreList: aff.list,
    desc: `same: reader+writer on CPU ${a}; cross: reader on CPU ${a}, writer on CPU ${b}`,
  };
}

// Every driver reads through its default transport; drivers that offer other transports
// (core: stdout 'socketpair', what child_process uses) get a row for each, and so does each
// other way of reading they offer (core: caller-owned buffers).
function readers(drivers) {
  const out = [];
  for (const driver of drivers) {
    out.push({ name: driver.name, driver, transport: undefined });
    for (const transport of driver.pipeTransports ?? []) {
      out.push({ name: `${driver.name}-${transport}`, driver, transport });
    }
    for (const [variant, spec] of Object.entries(driver.pipeVariants ?? {})) {
      out.push({ name: `${driver.name}-${variant}`, driver, variant: spec });
    }
  }
  return out;
}

// Page faults this process took while a run moved its bytes: a fresh buffer per read faults
// in (and zero-fills) every page it lands on, which is what this column makes visible.
function minorFaults() {
  return process.resourceUsage().minorPageFault;
}

export async function run(ctx) {
  // BENCH_ROUNDS: more rounds, for a median that means something on a busy machine.
  const rounds = Number(process.env.BENCH_ROUNDS) || (ctx.quick ? 1 : 2);
  const bytes = ctx.quick ? 128 * 2 ** 20 : 2 ** 30;
  if (!ctx.c.ok) throw new Error('needs the C writer, and there is no C compiler');
  const place = placements(ctx);

  const notes = {};
  const contenders = [];
  for (const [placement, readerCpu, writerCpu] of place.list) {
    const pinned = (fn) => async () => {
      const restore = readerCpu === null ? null : pinSelf(readerCpu, place.restoreList);
      try {
        return await fn();
      } finally {
        restore?.();
      }
    };
    const writerArgs = [String(bytes), '0', String(writerCpu)];
    for (const { name, driver: d, transport, variant } of readers(ctx.drivers)) {
      if (d.pipeNote) notes[name] = d.pipeNote;
      if (transport) notes[name] = `stdout: '${transport}'`;
      if (variant) notes[name] = variant.note;
      contenders.push({
        name: `${name}/${placement}`,
        run: pinned(async () => {
          const f0 = minorFaults();
          const t0 = hrNow();
          let n;
          try {
            n = variant
              ? await variant.run(ctx.c.bins.writer, writerArgs, { outFile: OUT_FILE })
              : await d.pipeBytes(ctx.c.bins.writer, writerArgs, { lines: true, transport });
          } finally {
            rmSync(OUT_FILE, { force: true });
          }
          const elapsedNs = nsSince(t0);
          const faults = minorFaults() - f0;
          if (n !== bytes) throw new Error(`received ${n} bytes, expected ${bytes}`);
          return { bytes: n, elapsedNs, faults };
        }),
      });
    }
    for (const [name, buf, kind, pipeSize, note, toFile] of C_VARIANTS) {
      notes[name] = note;
      const args = [buf, ctx.c.bins.writer, String(bytes), kind, pipeSize, String(writerCpu)];
      if (toFile) args.push(OUT_FILE);
      contenders.push({
        name: `${name}/${placement}`,
        run: pinned(async () => {
          try {
            const r = await runC(ctx.c.bins.pipe_reader, args);
            if (r.bytes !== bytes) throw new Error(`C reader got ${r.bytes} bytes`);
            return r;
          } finally {
            if (toFile) rmSync(OUT_FILE, { force: true });
          }
        }),
      });
    }
  }

  const { samples, errors } = await roundRobin(contenders, {
    rounds,
    settleMs: SETTLE_MS,
    log: ctx.log,
  });
  const impls = [...readers(ctx.drivers).map((r) => r.name), ...C_VARIANTS.map((v) => v[0])];
  const rows = [];
  for (const impl of impls) {
    const row = { impl, note: notes[impl] ?? '' };
    for (const [placement] of place.list) {
      const s = samples[`${impl}/${placement}`];
      if (!s?.length) continue;
      const mibs = s.map((x) => x.bytes / 2 ** 20 / (x.elapsedNs / 1e9));
      row[placement] = median(mibs);
      row[`${placement}Rounds`] = mibs;
      row[`${placement}FaultsPerGiB`] = median(s.map((x) => x.faults / (x.bytes / 2 ** 30)));
    }
    if (place.list.some(([p]) => row[p] !== undefined)) rows.push(row);
  }
  const columns = [];
  for (const [placement] of place.list) {
    columns.push({ key: placement, title: `${placement} MiB/s` });
    columns.push({ key: `ratio_${placement}`, title: 'vs cp', kind: 'ratio' });
    columns.push({ key: `${placement}FaultsPerGiB`, title: 'faults/GiB' });
  }
  columns.push({ key: 'note', title: 'note', kind: 'text' });
  const targets = [
    { text: 'core ≥ cp (unpinned)', impl: 'core', vs: 'cp', key: 'unpinned', min: 1 },
    {
      text: 'core ≥ 0.9× C 64 KiB pipe (unpinned)',
      impl: 'core',
      vs: 'c-pipe-64k',
      key: 'unpinned',
      min: 0.9,
    },
    {
      text: 'core vs C 1 MiB pipe (unpinned) (report)',
      impl: 'core',
      vs: 'c-pipe-1m',
      key: 'unpinned',
    },
  ];
  targets.push(
    {
      text: 'core-onread-64k ≥ 0.8× C 64 KiB pipe (unpinned)',
      impl: 'core-onread-64k',
      vs: 'c-pipe-64k',
      key: 'unpinned',
      min: 0.8,
    },
    {
      text: 'core-onread-1m ≥ 0.6× C 1 MiB pipe (unpinned)',
      impl: 'core-onread-1m',
      vs: 'c-pipe-1m',
      key: 'unpinned',
      min: 0.6,
    },
    {
      text: "core-pipeline-cat ≥ 0.9× sh -c 'writer | cat' (unpinned)",
      impl: 'core-pipeline-cat',
      vs: 'core-sh-c-cat',
      key: 'unpinned',
      min: 0.9,
    },
    {
      text: 'core-pipeTo-file ≥ 0.8× C cat > file (unpinned)',
      impl: 'core-pipeTo-file',
      vs: 'c-cat-file',
      key: 'unpinned',
      min: 0.8,
    },
  );
  for (const [placement] of place.list.slice(1)) {
    targets.push({
      text: `core vs cp (${placement}) (report)`,
      impl: 'core',
      vs: 'cp',
      key: placement,
    });
  }
  return {
    unit: 'MiB/s',
    higherIsBetter: true,
    valueKeys: place.list.map(([p]) => p),
    params: { rounds, bytes, writer: 'bench/c/writer.c, 1 MiB write()s', placements: place.desc },
    columns,
    rows,
    errors,
    targets,
  };
}
