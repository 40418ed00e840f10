// Small statistics helpers for the benchmark suite: percentiles (linear interpolation), medians
// and sample summaries, so every scenario reports numbers computed the same way.

/** @param {number[]} sorted ascending @param {number} p in [0, 100] */
export function percentileSorted(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function percentile(values, p) {
  return percentileSorted(
    [...values].sort((a, b) => a - b),
    p,
  );
}

export function median(values) {
  return percentile(values, 50);
}

/** Summary of latency-like samples: n, p50, p99, mean, min, max. */
export function summarize(values) {
  const s = [...values].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    n: s.length,
    p50: percentileSorted(s, 50),
    p99: percentileSorted(s, 99),
    mean: s.length ? sum / s.length : Number.NaN,
    min: s.length ? s[0] : Number.NaN,
    max: s.length ? s[s.length - 1] : Number.NaN,
  };
}

/** Round a number to `digits` significant digits (for JSON and tables). */
export function sig(x, digits = 4) {
  if (typeof x !== 'number' || !Number.isFinite(x) || x === 0) return x;
  return Number(x.toPrecision(digits));
}

/** Tail summary of latency-like samples: n, p50, p99, p99.9, mean, min, max. */
export function summarizeTail(values) {
  const s = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return {
    n: s.length,
    p50: percentileSorted(s, 50),
    p99: percentileSorted(s, 99),
    p999: percentileSorted(s, 99.9),
    mean: s.length ? sum / s.length : Number.NaN,
    min: s.length ? s[0] : Number.NaN,
    max: s.length ? s[s.length - 1] : Number.NaN,
  };
}

/**
 * Table rows for spawn-style samples ({ ops, elapsedNs, latNs[] } per round): median ops/s over
 * rounds, p50/p99 latency in µs, and the range.
 */
export function opsRows(contenders, samples) {
  const rows = [];
  for (const c of contenders) {
    const s = samples[c.name];
    if (!s?.length) continue;
    const lat = summarize(s.flatMap((x) => x.latNs));
    const perRoundOps = s.map((x) => x.ops / (x.elapsedNs / 1e9));
    rows.push({
      impl: c.name,
      value: median(perRoundOps),
      p50: lat.p50 / 1e3,
      p99: lat.p99 / 1e3,
      min: Math.min(...perRoundOps),
      max: Math.max(...perRoundOps),
      rounds: perRoundOps,
    });
  }
  return rows;
}
