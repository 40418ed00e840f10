/**
 * The clock and the absolute sleep realtime loops are built on: CLOCK_MONOTONIC in
 * nanoseconds and clock_nanosleep(TIMER_ABSTIME), what cyclictest measures with. Deadlines are
 * absolute, so a late wake-up does not push the next one back (no drift), and the sleep takes
 * no V8 or libuv lock: Atomics.wait, the alternative, goes through one process-wide mutex.
 */
import { invalid } from '../errors.js';
import { native } from '../native.js';
import { isSchedError, schedFailure } from '../sched/errors.js';

/**
 * CLOCK_MONOTONIC now, in nanoseconds: the clock `sleepUntil` and `periodic` use.
 * @example
 * const t0 = monotonicNs();
 * sleepUntil(t0 + 1_000_000n); // 1 ms after t0
 */
export function monotonicNs(): bigint {
  return native.monotonicNs();
}

/**
 * Blocks the calling thread until CLOCK_MONOTONIC reads `deadlineNs` (a bigint, or a number
 * below 2^53) and returns how late it woke, in ns; a deadline already past returns at once
 * with its lateness. A signal does not cut the sleep short. Meant for worker threads: on the
 * main thread it blocks the event loop like any synchronous call. Creates no object per call
 * (the returned lateness is a small integer), so a loop around it does not feed the GC.
 * Throws ProcessError InvalidCommand for a negative or fractional deadline, Unsupported on
 * macOS.
 * @example
 * let next = monotonicNs();
 * for (let i = 0; i < 1000; i++) {
 *   next += 1_000_000n;
 *   const lateNs = sleepUntil(next); // wake-up lateness of this 1 ms period
 * }
 */
export function sleepUntil(deadlineNs: bigint | number): number {
  const ok =
    typeof deadlineNs === 'bigint'
      ? deadlineNs >= 0n && deadlineNs < 0x8000000000000000n
      : Number.isSafeInteger(deadlineNs) && deadlineNs >= 0;
  if (!ok) {
    throw invalid(
      'deadlineNs',
      deadlineNs,
      'must be a CLOCK_MONOTONIC time in ns: a bigint or an integer number >= 0 (see monotonicNs())',
    );
  }
  const r = native.sleepUntil(deadlineNs);
  if (typeof r !== 'number') throw sleepFailure('sleepUntil', r);
  return r;
}

/** A failed sleep: Unsupported off Linux, else the errno the kernel gave. */
export function sleepFailure(op: string, r: unknown): Error {
  if (isSchedError(r)) return schedFailure(op, 'the calling thread', r);
  return new TypeError(`${op}: unexpected native result ${String(r)}`);
}
