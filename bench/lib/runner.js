// Round-robin runner: every round runs each contender once, rotating the start position each
// round, so slow drift and noise on the machine are spread over all implementations equally.
// A contender that throws is recorded and dropped from later rounds instead of aborting the run.
import { delay, getGc } from './proc.js';

/**
 * @param {{ name: string, run: (round: number) => Promise<any> }[]} contenders
 * @param {{ rounds: number, gcBetween?: boolean, settleMs?: number, log?: (msg: string) => void }} opts
 * @returns {Promise<{ samples: Record<string, any[]>, errors: Record<string, string> }>}
 */
export async function roundRobin(
  contenders,
  { rounds, gcBetween = true, settleMs = 0, log = () => {} },
) {
  const gc = getGc();
  const samples = Object.fromEntries(contenders.map((c) => [c.name, []]));
  const errors = {};
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length];
      if (errors[c.name]) continue;
      if (gcBetween) gc();
      // Let V8's background threads (concurrent sweeping, freeing buffers) go quiet first.
      if (settleMs) await delay(settleMs);
      try {
        samples[c.name].push(await c.run(round));
      } catch (err) {
        errors[c.name] = errorText(err);
        log(`  ${c.name}: FAILED in round ${round + 1}: ${errors[c.name]}`);
      }
    }
    log(`  round ${round + 1}/${rounds} done`);
  }
  return { samples, errors };
}

export function errorText(err) {
  if (!(err instanceof Error)) return String(err);
  const extra = [];
  for (const k of ['code', 'kind', 'errno', 'syscall']) {
    if (err[k] !== undefined) extra.push(`${k}=${err[k]}`);
  }
  return `${err.name}: ${err.message}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

export const hrNow = () => process.hrtime.bigint();
export const nsSince = (t0) => Number(process.hrtime.bigint() - t0);

/**
 * Round-robin contenders that each run `op` `perRound` times in sequence per round, timing
 * every call: the shape opsRows() (lib/stats.js) summarises.
 */
export function sequentialContenders(ops, perRound) {
  return Object.entries(ops).map(([name, op]) => ({
    name,
    run: async () => {
      const lat = new Array(perRound);
      const t0 = hrNow();
      for (let i = 0; i < perRound; i++) {
        const a = hrNow();
        await op();
        lat[i] = nsSince(a);
      }
      return { ops: perRound, elapsedNs: nsSince(t0), latNs: lat };
    },
  }));
}
