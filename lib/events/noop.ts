/** NoOp: the explicit opt-out subscriber. */
import type { EventEnvelope } from './envelope.js';
import type { Subscriber } from './subscriber.js';

/**
 * Accepts every event and does nothing with it. Configuring it says "subscribers were
 * considered and none chosen", which an absent `events` block (the JSONL default) does not.
 * @example
 * await new NoOp().deliver(event); // resolves, writes nothing
 */
export class NoOp implements Subscriber {
  readonly name = 'noop';

  deliver(_event: EventEnvelope, _signal?: AbortSignal): Promise<void> {
    return Promise.resolve();
  }
}
