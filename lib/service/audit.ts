/**
 * The audit trail of the process service: one event envelope per spawn, signal, exit and
 * denial, delivered in order to the configured subscribers by a background pump. Recording
 * never blocks and never fails the process it describes; a subscriber failure is counted,
 * reported (one stderr line, and the `onFailure` hook), and the next record goes on.
 */

import { type DispatchOptions, dispatch } from '../events/dispatch.js';
import { type Actor, type Artifact, createEvent, type EventEnvelope } from '../events/envelope.js';
import type { Subscriber } from '../events/subscriber.js';

export interface AuditStats {
  /** Records accepted by `record()`. */
  recorded: number;
  /** Records every subscriber took. */
  delivered: number;
  /** Subscriber deliveries that failed (one record can fail at several subscribers). */
  failed: number;
  /** Records not yet handed to the subscribers. */
  pending: number;
}

export interface AuditRecordOptions {
  actor?: Actor;
  /** What the record is about; `id` is required by the envelope (the managed id, the action). */
  artifact: Partial<Artifact> & { id: string };
}

/**
 * @example
 * const audit = new AuditTrail([new JsonlWriter('audit.jsonl', root)], { kind: 'service', id: 'app' });
 * audit.record('process.spawned', { pid: 42, program: '/usr/bin/git' }, { artifact: { id: 'proc-1' } });
 * await audit.flush();
 */
export class AuditTrail {
  readonly subscribers: readonly Subscriber[];
  readonly #actor: Actor;
  readonly #queue: EventEnvelope[] = [];
  readonly #dispatch: DispatchOptions;
  readonly #onFailure: ((subscriber: string, error: Error, event: string) => void) | undefined;
  #pump: Promise<void> | null = null;
  #recorded = 0;
  #delivered = 0;
  #failed = 0;

  constructor(
    subscribers: readonly Subscriber[],
    actor: Actor,
    options: {
      onFailure?: (subscriber: string, error: Error, event: string) => void;
      stderr?: (line: string) => void;
    } = {},
  ) {
    this.subscribers = subscribers;
    this.#actor = actor;
    this.#onFailure = options.onFailure;
    this.#dispatch = options.stderr ? { stderr: options.stderr } : {};
  }

  /** True when there is somewhere to deliver: callers skip building payloads otherwise. */
  get active(): boolean {
    return this.subscribers.length > 0;
  }

  /**
   * Queues one envelope; its timestamp is taken now, delivery happens in order later.
   *
   * @example
   * audit.record('process.signalled', { pid, signal: 'SIGTERM' }, { actor, artifact: { id: 'proc-7' } });
   */
  record(name: string, payload: Record<string, unknown>, options: AuditRecordOptions): void {
    if (!this.active) return;
    this.#recorded++;
    const event = createEvent(name, payload, {
      actor: options.actor ?? this.#actor,
      artifact: { type: 'process', ...options.artifact },
    });
    this.#queue.push(event);
    this.#pump ??= this.#drain();
  }

  /**
   * Resolves once every record so far has been offered to every subscriber.
   *
   * @example
   * await audit.flush(); // before reading the JSONL file
   */
  async flush(): Promise<void> {
    while (this.#pump !== null) await this.#pump;
  }

  stats(): AuditStats {
    return {
      recorded: this.#recorded,
      delivered: this.#delivered,
      failed: this.#failed,
      pending: this.#queue.length,
    };
  }

  async #drain(): Promise<void> {
    try {
      for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) {
        const result = await dispatch(event, this.subscribers, this.#dispatch);
        if (result.failed === 0 && result.validationError === null) this.#delivered++;
        this.#failed += result.failed + (result.validationError === null ? 0 : 1);
        for (const f of result.failures) this.#onFailure?.(f.subscriber, f.error, event.name);
        if (result.validationError !== null) {
          this.#onFailure?.('(validation)', result.validationError, event.name);
        }
      }
    } finally {
      this.#pump = null;
    }
  }
}
