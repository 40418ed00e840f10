/**
 * periodic(): the deadlines of a fixed-rate loop, kept where a tick creates no object. The
 * next deadline lives in a BigInt64Array the addon reads and advances itself, so the loop
 * neither builds a BigInt per tick (a bigint add allocates) nor passes a heap number to the
 * addon; the lateness comes back as a small integer. Measured by test/thread/periodic.test.ts:
 * 200 000 ticks run without a single scavenge where the bigint loop needs several.
 */
import { invalid } from '../errors.js';
import { native } from '../native.js';
import { sleepFailure } from './clock.js';

export interface PeriodicOptions {
  /** The first deadline (CLOCK_MONOTONIC ns); default one interval from now. */
  startNs?: bigint;
  /**
   * After a wake-up later than a whole interval, skip the deadlines already past (counted in
   * `missed`) instead of returning at once for each, as cyclictest does. Default false.
   */
  skipMissed?: boolean;
}

/** A fixed-rate schedule on CLOCK_MONOTONIC; see periodic(). */
export class Periodic {
  readonly #state: BigInt64Array;

  /** @internal use periodic() */
  constructor(intervalNs: bigint, startNs: bigint, skipMissed = false) {
    this.#state = new BigInt64Array([startNs, intervalNs, 0n, skipMissed ? 1n : 0n, 0n]);
  }

  /**
   * Sleeps until the next deadline, moves it one interval on, and returns how late the
   * wake-up was in ns. A late tick does not shift the schedule: deadlines stay on the grid
   * (start + k * interval), as cyclictest's do.
   */
  wait(): number {
    const r = native.sleepPeriod(this.#state);
    if (typeof r !== 'number') throw sleepFailure('periodic.wait', r);
    return r;
  }

  /** The deadline the next wait() sleeps to (creates a bigint: read it off the hot path). */
  get deadlineNs(): bigint {
    return this.#state[0] as bigint;
  }

  get intervalNs(): bigint {
    return this.#state[1] as bigint;
  }

  /** How many times wait() has returned. */
  get ticks(): number {
    return Number(this.#state[2]);
  }

  /** Deadlines skipped because a wake-up came after them (with skipMissed). */
  get missed(): number {
    return Number(this.#state[4]);
  }
}

/**
 * A schedule of deadlines `intervalNs` apart on CLOCK_MONOTONIC, for a loop in a worker
 * thread: `wait()` sleeps to the next one (clock_nanosleep TIMER_ABSTIME) and returns the
 * lateness in ns, allocating nothing per tick. `intervalNs` is a bigint or an integer number
 * (at least 1000 ns).
 * @example
 * const tick = periodic(1_000_000); // 1 ms
 * let worstNs = 0;
 * for (let i = 0; i < 1000; i++) worstNs = Math.max(worstNs, tick.wait());
 */
export function periodic(intervalNs: bigint | number, options: PeriodicOptions = {}): Periodic {
  const interval =
    typeof intervalNs === 'bigint'
      ? intervalNs
      : Number.isSafeInteger(intervalNs)
        ? BigInt(intervalNs)
        : -1n;
  if (interval < 1000n || interval >= 0x4000000000000000n) {
    throw invalid('intervalNs', intervalNs, 'must be an integer number of ns >= 1000 (1 µs)');
  }
  const start = options.startNs ?? native.monotonicNs() + interval;
  if (typeof start !== 'bigint' || start < 0n || start >= 0x4000000000000000n) {
    throw invalid('startNs', start, 'must be a bigint CLOCK_MONOTONIC time in ns (monotonicNs())');
  }
  if (options.skipMissed !== undefined && typeof options.skipMissed !== 'boolean') {
    throw invalid('skipMissed', options.skipMissed, 'must be a boolean');
  }
  return new Periodic(interval, start, options.skipMissed === true);
}
