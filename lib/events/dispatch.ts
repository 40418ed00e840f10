/**
 * Fan-out dispatch: validate once, then hand the envelope to each subscriber in declared
 * order. One subscriber's failure never stops the others; it is counted and logged.
 */

import { describe } from '../errors.js';
import type { EventEnvelope } from './envelope.js';
import type { Subscriber } from './subscriber.js';
import { type EnvelopeValidationError, validate } from './validate.js';

export interface SubscriberFailure {
  /** The failing subscriber's `name`. */
  subscriber: string;
  error: Error;
}

export interface DispatchResult {
  /** Set when the envelope was invalid; then no subscriber was called. */
  validationError: EnvelopeValidationError | null;
  /** Subscribers whose `deliver` resolved. */
  delivered: number;
  /** Subscribers whose `deliver` threw or rejected. */
  failed: number;
  /** One entry per failed subscriber, in declared order. */
  failures: SubscriberFailure[];
}

export interface DispatchOptions {
  /** Passed to every `deliver`; each subscriber decides what aborting means for it. */
  signal?: AbortSignal;
  /** Receives each failure line without its newline; default writes it to process.stderr. */
  stderr?: (line: string) => void;
}

function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'string') return new Error(thrown);
  return new Error(`non-Error value thrown: ${describe(thrown)}`, { cause: thrown });
}

// Escaped so the line stays one line and round-trips through key=value log parsers; \r too,
// or a carriage return would hide the start of the line on a terminal.
function quote(message: string): string {
  return message
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r');
}

function writeStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Validates `event`, then delivers it to each subscriber in order, one at a time. A failing
 * subscriber is isolated: counted, listed in `failures`, reported with one stderr line
 * `event-dispatch failure: subscriber=<name> event=<name> error="<message>"`, and the next
 * subscriber still gets the event. Successes print nothing. Never rejects.
 * @example
 * const result = await dispatch(event, [new JsonlWriter('.specscore/events.jsonl', root)]);
 * process.exitCode = dispatchExitCode(result, 1);
 */
export async function dispatch(
  event: EventEnvelope,
  subscribers: readonly Subscriber[],
  options: DispatchOptions = {},
): Promise<DispatchResult> {
  const validationError = validate(event);
  const result: DispatchResult = { validationError, delivered: 0, failed: 0, failures: [] };
  if (validationError !== null) return result;
  const stderr = options.stderr ?? writeStderr;
  for (const subscriber of subscribers) {
    try {
      await subscriber.deliver(event, options.signal);
      result.delivered++;
    } catch (thrown) {
      const error = toError(thrown);
      result.failed++;
      result.failures.push({ subscriber: subscriber.name, error });
      stderr(
        `event-dispatch failure: subscriber=${subscriber.name} event=${event.name} error="${quote(error.message)}"`,
      );
    }
  }
  return result;
}

/**
 * The exit-code contract of an event-emitting command: 2 for an invalid envelope, 0 when at
 * least one subscriber took the event (or none is configured), 10 when every subscriber
 * failed.
 * @example
 * dispatchExitCode({ validationError: null, delivered: 1, failed: 2, failures }, 3); // 0
 * dispatchExitCode({ validationError: null, delivered: 0, failed: 3, failures }, 3); // 10
 */
export function dispatchExitCode(result: DispatchResult, subscriberCount: number): 0 | 2 | 10 {
  if (result.validationError !== null) return 2;
  if (result.delivered > 0 || subscriberCount === 0) return 0;
  // Subscribers were configured and none took the event: that is a failure even in the
  // inconsistent case of a result that counts no failure either.
  return 10;
}
