/**
 * Parsers for command-line values. Each throws commander's InvalidArgumentError, so the
 * message commander prints names the flag as well as the value and what was expected.
 */
import { InvalidArgumentError } from 'commander';
import type { SignalName } from '../process/signals.js';
import { signalNumber } from '../process/signals.js';
import { RLIMIT_NAMES, type RlimitName, type Rlimits, type RlimitValue } from '../sched/rlimits.js';

/**
 * A mistake in what the user typed or pointed us at (a bad file, a missing entry): exit 2.
 *
 * @example
 * throw new UsageError('ci.yaml: specs.0.command: Required');
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

const RLIMITS = RLIMIT_NAMES;

/**
 * A CPU list as taskset -c takes it: `0,2-3`.
 *
 * @example
 * parseCpuList('0,2-3'); // [0, 2, 3]
 */
export function parseCpuList(value: string): number[] {
  const out = new Set<number>();
  for (const part of value.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) {
      throw new InvalidArgumentError(`"${value}" is not a CPU list such as 0,2-3.`);
    }
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new InvalidArgumentError(`range "${part}" runs backwards.`);
    for (let c = from; c <= to; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration in milliseconds: `250ms`, `10s`, `1.5m`, `2h`; a bare number is seconds, as in
 * timeout(1).
 *
 * @example
 * parseDuration('1.5s'); // 1500
 */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (m === null) {
    throw new InvalidArgumentError(`"${value}" is not a duration such as 500ms, 10s, 2m or 1h.`);
  }
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 's'] as number));
}

/**
 * An integer within bounds.
 *
 * @example
 * const nice = integerIn(-20, 19)('5'); // 5
 */
const NS_PER: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9 };

/**
 * `RUNTIME/DEADLINE/PERIOD` with units (ns, us, ms, s; a bare number is ns), e.g. 200us/1ms/1ms,
 * into SCHED_DEADLINE parameters in ns. The kernel's ordering rules are checked by lib/sched.
 * @example
 * parseDeadline('200us/1ms/1ms'); // { runtimeNs: 200000, deadlineNs: 1000000, periodNs: 1000000 }
 */
export function parseDeadline(value: string): {
  runtimeNs: number;
  deadlineNs: number;
  periodNs: number;
} {
  const parts = value.split('/');
  const ns = parts.map((p) => {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s)?$/.exec(p.trim());
    const n = m ? Math.round(Number(m[1]) * (NS_PER[m[2] ?? 'ns'] as number)) : Number.NaN;
    return Number.isSafeInteger(n) ? n : Number.NaN;
  });
  if (parts.length !== 3 || ns.some((n) => Number.isNaN(n))) {
    throw new InvalidArgumentError(
      `"${value}" is not RUNTIME/DEADLINE/PERIOD such as 200us/1ms/1ms (units ns, us, ms, s).`,
    );
  }
  const [runtimeNs, deadlineNs, periodNs] = ns as [number, number, number];
  return { runtimeNs, deadlineNs, periodNs };
}

export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`"${value}" must be an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

function limit(text: string, whole: string): number | 'unlimited' {
  if (text === 'unlimited' || text === 'infinity') return 'unlimited';
  if (!/^\d+$/.test(text)) {
    throw new InvalidArgumentError(`"${whole}": ${text} is not a number or "unlimited".`);
  }
  return Number(text);
}

/**
 * Collects `--rlimit name=soft[:hard]` flags into an Rlimits object (prlimit's syntax).
 *
 * @example
 * collectRlimit('nofile=1024:4096', {}); // { nofile: { soft: 1024, hard: 4096 } }
 */
export function collectRlimit(value: string, previous: Rlimits = {}): Rlimits {
  const m = /^([a-z]+)=([^:]+)(?::(.+))?$/.exec(value.trim());
  if (m === null) {
    throw new InvalidArgumentError(`"${value}" is not name=soft[:hard], e.g. nofile=1024.`);
  }
  const name = m[1] as RlimitName;
  if (!RLIMITS.includes(name)) {
    throw new InvalidArgumentError(`"${m[1]}" is not a resource limit (${RLIMITS.join(', ')}).`);
  }
  const soft = limit(m[2] as string, value);
  const v: RlimitValue = m[3] === undefined ? soft : { soft, hard: limit(m[3], value) };
  return { ...previous, [name]: v };
}

/**
 * Collects `--env KEY=VALUE` flags.
 *
 * @example
 * collectEnv('DEBUG=1', {}); // { DEBUG: '1' }
 */
export function collectEnv(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`"${value}" is not KEY=VALUE.`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

/**
 * A signal name with or without SIG, or its number.
 *
 * @example
 * parseSignal('term'); // 'SIGTERM'
 */
export function parseSignal(value: string): SignalName {
  const upper = value.trim().toUpperCase();
  const name = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as SignalName;
  try {
    signalNumber(name, 'signal');
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a signal name such as TERM or SIGKILL.`);
  }
  return name;
}

/**
 * A size in bytes: a plain number, or one with K, M, G or T (powers of 1024, optional B/iB).
 *
 * @example
 * parseSize('256M'); // 268435456
 */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not a size such as 512K, 256M or 2G.`);
  const shift = { '': 0, K: 10, M: 20, G: 30, T: 40 }[(m[2] ?? '').toUpperCase()] ?? 0;
  const bytes = Math.round(Number(m[1]) * 2 ** shift);
  if (!Number.isSafeInteger(bytes)) throw new InvalidArgumentError(`"${value}" is too large.`);
  return bytes;
}

/**
 * A CPU limit: a percentage of one CPU (`50%`, `150%`) or `quotaUs/periodUs` (`20000/100000`).
 *
 * @example
 * parseCpuLimit('50%'); // { percent: 50 }
 */
export function parseCpuLimit(
  value: string,
): { percent: number } | { quotaUs: number; periodUs: number } {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(value.trim());
  if (pct) return { percent: Number(pct[1]) };
  const q = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (q) return { quotaUs: Number(q[1]), periodUs: Number(q[2]) };
  throw new InvalidArgumentError(`"${value}" is not a CPU limit such as 50% or 20000/100000.`);
}

/**
 * Repeatable string flags (--sandbox-write A --sandbox-write B).
 *
 * @example
 * collectList('/tmp/a', ['/tmp/b']); // ['/tmp/b', '/tmp/a']
 */
export function collectList(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
