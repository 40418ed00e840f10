// Scenario 2: scenario 1 while the parent holds 1 GiB of touched memory. fork()-based spawning
// (libuv, so node:child_process and everything built on it) must copy the page tables of that
// memory on every spawn; posix_spawn/vfork/CLONE_VM-based spawning does not. Only core, cp and
// the C loop run here: execa, tinyexec and nano-spawn spawn through node:child_process, so they
// pay exactly what cp pays (measured: within ±5% of cp) and would add ~20 s to the run.
import { getGc } from '../lib/proc.js';
import { columns, measureSequential } from './1-spawn-seq.js';

export const id = 2;
export const title = 'sequential spawn+wait of /bin/true while holding 1 GiB touched memory';

const HOLD_MIB = 1024;

export async function run(ctx) {
  const rounds = ctx.quick ? 1 : 3;
  const perRound = ctx.quick ? 20 : 60;
  const rssBefore = process.memoryUsage().rss;
  let held = Buffer.allocUnsafeSlow(HOLD_MIB * 1024 * 1024);
  for (let off = 0; off < held.length; off += 4096) held[off] = 1;
  const rssHeld = process.memoryUsage().rss;
  ctx.log(`  holding ${((rssHeld - rssBefore) / 2 ** 20).toFixed(0)} MiB more RSS`);
  let result;
  try {
    const drivers = ctx.drivers.filter((d) => d.name === 'core' || d.name === 'cp');
    result = await measureSequential(
      { ...ctx, drivers },
      { rounds, perRound, warmup: 3, holdMiB: HOLD_MIB },
    );
  } finally {
    // Keep the buffer reachable until here, then release it before the next scenario.
    ctx.log(`  (held buffer checksum ${held[held.length - 4096]})`);
    held = null;
    getGc()();
  }
  return {
    unit: 'ops/s',
    higherIsBetter: true,
    params: {
      rounds,
      perRound,
      holdMiB: HOLD_MIB,
      rssGrowthMiB: Math.round((rssHeld - rssBefore) / 2 ** 20),
    },
    columns,
    rows: result.rows,
    errors: result.errors,
    targets: [
      { text: 'core ops/s ≥ 15× cp', impl: 'core', vs: 'cp', min: 15 },
      { text: 'core vs C posix_spawn loop (report)', impl: 'core', vs: 'c' },
    ],
  };
}
