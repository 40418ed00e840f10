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

/**
 * Interleaved contenders: each round makes `perRound` passes, and every pass calls each op
 * once (the order reversed on alternate passes), timing each call. Neighbouring calls of
 * different contenders see the same machine state, so a small fixed overhead (a few %) is
 * measurable on a noisy VM where whole batches drift by ±10% between rounds. Returns the
 * roundRobin() result shape, so opsRows() summarises it (ops/s from the summed latencies).
 */
export async function interleaved(ops, { rounds, perRound, log = () => {} }) {
  const names = Object.keys(ops);
  const gc = getGc();
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  const errors = {};
  for (let round = 0; round < rounds; round++) {
    const lat = Object.fromEntries(names.map((n) => [n, []]));
    gc();
    for (let pass = 0; pass < perRound; pass++) {
      const order = pass % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        if (errors[name]) continue;
        const a = hrNow();
        try {
          await ops[name]();
        } catch (err) {
          errors[name] = errorText(err);
          log(`  ${name}: FAILED in round ${round + 1}: ${errors[name]}`);
          continue;
        }
        lat[name].push(nsSince(a));
      }
    }
    for (const name of names) {
      if (lat[name].length === 0) continue;
      const elapsedNs = lat[name].reduce((x, y) => x + y, 0);
      samples[name].push({ ops: lat[name].length, elapsedNs, latNs: lat[name] });
    }
    log(`  round ${round + 1}/${rounds} done`);
  }
  return { samples, errors };
}
