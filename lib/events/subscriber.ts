/** The extension point: anything that can take a validated envelope somewhere. */
import type { EventEnvelope } from './envelope.js';

/**
 * A destination for dispatched events. Must be safe to call many times in one process.
 * @example
 * const console: Subscriber = {
 *   name: 'console',
 *   async deliver(event) { process.stdout.write(`${event.name}\n`); },
 * };
 */
export interface Subscriber {
  /** A stable identifier for failure logs; the dispatcher does not interpret it. */
  readonly name: string;
  /** Resolves once delivered; rejects on any failure (I/O error, hook exit, timeout...). */
  deliver(event: EventEnvelope, signal?: AbortSignal): Promise<void>;
}
