/**
 * EventBus: topic publish/subscribe with glob subscriptions. `publish` never blocks and never
 * throws on a subscriber's account: each subscriber has its own bounded queue, drained on a
 * later turn; a full queue drops the event and counts it, a throwing subscriber is counted and
 * reported as a `plugin.<name>.panic` event, and the publisher never learns of either. That
 * keeps hot paths (a process's output, its exit) independent of slow observers.
 */
import { CoreError, toError } from './errors.js';
import { globMatcher, type NameMatcher } from './glob.js';
import type { CoreLogger } from './logger.js';

/** One published event. `seq` is per bus and strictly increasing; `time` is `Date.now()`. */
export interface CoreEvent<P = unknown> {
  readonly topic: string;
  readonly payload: P;
  readonly time: number;
  readonly seq: number;
}

export type EventHandler<P = unknown> = (event: CoreEvent<P>) => void | Promise<void>;

export interface SubscribeOptions {
  /** Names the subscriber in stats and in its `plugin.<name>.panic` events. Default 'anonymous'. */
  name?: string;
  /** Events held for this subscriber before new ones are dropped. Default: the bus's. */
  queueSize?: number;
}

export interface StreamOptions extends SubscribeOptions {
  /** Ends the iteration (the loop exits normally) and unsubscribes. */
  signal?: AbortSignal;
}

/** The payload of a `plugin.<name>.panic` event. */
export interface PanicPayload {
  readonly subscriber: string;
  readonly pattern: string;
  /** The event the subscriber was handling when it threw. */
  readonly topic: string;
  readonly seq: number;
  readonly error: string;
  /** This subscriber's panics so far, this one included. */
  readonly panics: number;
}

export interface SubscriberStats {
  readonly id: number;
  readonly name: string;
  readonly pattern: string;
  readonly queued: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly panics: number;
}

export interface EventBusStats {
  readonly published: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly panics: number;
  readonly subscribers: readonly SubscriberStats[];
}

export interface EventBusOptions {
  /** Default per-subscriber queue bound. Default 1024. */
  queueSize?: number;
  logger?: CoreLogger;
}

export const DEFAULT_QUEUE_SIZE = 1024;
// A subscriber that publishes what it receives would otherwise never give the loop back.
const DRAIN_BATCH = 256;
const PANIC_TOPIC = /^plugin\..+\.panic$/;

class Subscriber {
  readonly queue: CoreEvent[] = [];
  delivered = 0;
  dropped = 0;
  panics = 0;
  active = true;
  scheduled = false;
  waiter: ((r: IteratorResult<CoreEvent>) => void) | undefined;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly pattern: string,
    readonly match: NameMatcher,
    readonly capacity: number,
    readonly handler: EventHandler | undefined,
  ) {}

  stats(): SubscriberStats {
    const { id, name, pattern, delivered, dropped, panics } = this;
    return { id, name, pattern, queued: this.queue.length, delivered, dropped, panics };
  }
}

/**
 * @example
 * const bus = new EventBus();
 * const off = bus.subscribe('process.*', (e) => console.log(e.topic, e.payload), { name: 'log' });
 * bus.publish('process.started', { pid: 42 });
 * off();
 */
export class EventBus {
  readonly #subs = new Set<Subscriber>();
  readonly #queueSize: number;
  readonly #logger: CoreLogger | undefined;
  #seq = 0;
  #nextId = 1;
  #published = 0;
  #delivered = 0;
  #dropped = 0;
  #panics = 0;

  constructor(options: EventBusOptions = {}) {
    this.#queueSize = checkQueueSize(options.queueSize ?? DEFAULT_QUEUE_SIZE, 'EventBus');
    this.#logger = options.logger;
  }

  /**
   * Publishes synchronously and returns the event; delivery happens on a later turn.
   * Subscribers whose queue is full miss this event (counted in `stats()`).
   *
   * @example
   * const e = core.events.publish('build.done', { ms: 1200 });
   * e.seq; // 17
   */
  publish<P>(topic: string, payload: P): CoreEvent<P> {
    if (typeof topic !== 'string' || topic.length === 0) {
      throw new CoreError('InvalidInput', `events.publish: topic must be a non-empty string`, {
        field: 'topic',
      });
    }
    const event: CoreEvent<P> = Object.freeze({
      topic,
      payload,
      time: Date.now(),
      seq: ++this.#seq,
    });
    this.#published++;
    for (const sub of this.#subs) {
      if (sub.match(topic)) this.#offer(sub, event);
    }
    return event;
  }

  /**
   * Whether any subscriber would receive an event on this topic now: lets a publisher skip
   * building a payload nobody reads.
   *
   * @example
   * if (core.events.wants('process.output')) core.events.publish('process.output', { line });
   */
  wants(topic: string): boolean {
    for (const sub of this.#subs) if (sub.match(topic)) return true;
    return false;
  }

  /**
   * Calls `handler` for every event whose topic matches the dotted glob, in publish order,
   * one at a time (an async handler is awaited before the next event). Returns the unsubscribe.
   *
   * @example
   * const off = core.events.subscribe('plugin.*.panic', (e) => alert(e.payload), { name: 'ops' });
   */
  subscribe<P = unknown>(
    pattern: string,
    handler: EventHandler<P>,
    options: SubscribeOptions = {},
  ): () => void {
    if (typeof handler !== 'function') {
      throw new CoreError(
        'InvalidInput',
        `events.subscribe('${pattern}'): handler must be a function`,
        {
          field: 'handler',
        },
      );
    }
    const sub = this.#add(pattern, handler as EventHandler, options);
    return () => this.#remove(sub);
  }

  /**
   * The same subscription as an async iterator: `break`, `return()` or the signal end it.
   *
   * @example
   * for await (const e of core.events.stream('process.*', { signal })) {
   *   if (e.topic === 'process.exited') break;
   * }
   */
  stream<P = unknown>(
    pattern: string,
    options: StreamOptions = {},
  ): AsyncIterableIterator<CoreEvent<P>> {
    const sub = this.#add(pattern, undefined, options);
    const done = (): IteratorResult<CoreEvent<P>> => ({ done: true, value: undefined });
    const end = (): void => {
      this.#remove(sub);
      options.signal?.removeEventListener('abort', end);
    };
    if (options.signal?.aborted) end();
    else options.signal?.addEventListener('abort', end, { once: true });

    const iterator: AsyncIterableIterator<CoreEvent<P>> = {
      next: () => {
        const event = sub.queue.shift();
        if (event) {
          this.#countDelivered(sub);
          return Promise.resolve({ done: false, value: event as CoreEvent<P> });
        }
        if (!sub.active) return Promise.resolve(done());
        return new Promise((resolve) => {
          sub.waiter = resolve as (r: IteratorResult<CoreEvent>) => void;
        });
      },
      return: () => {
        end();
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /**
   * Counters for the bus and each live subscriber: how much was dropped, and by whom.
   *
   * @example
   * const { dropped, subscribers } = core.events.stats();
   */
  stats(): EventBusStats {
    return {
      published: this.#published,
      delivered: this.#delivered,
      dropped: this.#dropped,
      panics: this.#panics,
      subscribers: [...this.#subs].map((s) => s.stats()),
    };
  }

  #add(pattern: string, handler: EventHandler | undefined, options: SubscribeOptions): Subscriber {
    if (typeof pattern !== 'string' || pattern.length === 0) {
      throw new CoreError('InvalidInput', `events.subscribe: pattern must be a non-empty glob`, {
        field: 'pattern',
      });
    }
    const capacity = checkQueueSize(
      options.queueSize ?? this.#queueSize,
      `events.subscribe('${pattern}')`,
    );
    const name = options.name ?? 'anonymous';
    const sub = new Subscriber(
      this.#nextId++,
      name,
      pattern,
      globMatcher(pattern),
      capacity,
      handler,
    );
    this.#subs.add(sub);
    return sub;
  }

  #remove(sub: Subscriber): void {
    if (!sub.active) return;
    sub.active = false;
    sub.queue.length = 0;
    this.#subs.delete(sub);
    const waiter = sub.waiter;
    sub.waiter = undefined;
    waiter?.({ done: true, value: undefined });
  }

  #offer(sub: Subscriber, event: CoreEvent): void {
    if (sub.waiter) {
      const waiter = sub.waiter;
      sub.waiter = undefined;
      this.#countDelivered(sub);
      waiter({ done: false, value: event });
      return;
    }
    if (sub.queue.length >= sub.capacity) {
      sub.dropped++;
      this.#dropped++;
      return;
    }
    sub.queue.push(event);
    if (sub.handler && !sub.scheduled) {
      sub.scheduled = true;
      setImmediate(() => void this.#drain(sub));
    }
  }

  async #drain(sub: Subscriber): Promise<void> {
    const handler = sub.handler;
    if (!handler) return;
    let batch = 0;
    while (sub.active && sub.queue.length > 0) {
      if (++batch > DRAIN_BATCH) {
        setImmediate(() => void this.#drain(sub));
        return;
      }
      const event = sub.queue.shift() as CoreEvent;
      try {
        const r = handler(event);
        if (r instanceof Promise) await r;
        this.#countDelivered(sub);
      } catch (e) {
        this.#panic(sub, event, e);
      }
    }
    sub.scheduled = false;
  }

  #countDelivered(sub: Subscriber): void {
    sub.delivered++;
    this.#delivered++;
  }

  #panic(sub: Subscriber, event: CoreEvent, thrown: unknown): void {
    sub.panics++;
    this.#panics++;
    const error = toError(thrown);
    this.#logger?.error(`subscriber '${sub.name}' (${sub.pattern}) threw on '${event.topic}'`, {
      subscriber: sub.name,
      topic: event.topic,
      seq: event.seq,
      error,
    });
    // A panic while handling a panic event is counted but not republished: a subscriber that
    // throws on everything would otherwise feed itself forever.
    if (PANIC_TOPIC.test(event.topic)) return;
    const payload: PanicPayload = {
      subscriber: sub.name,
      pattern: sub.pattern,
      topic: event.topic,
      seq: event.seq,
      error: error.message,
      panics: sub.panics,
    };
    this.publish(`plugin.${sub.name}.panic`, payload);
  }
}

function checkQueueSize(n: number, op: string): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new CoreError('InvalidInput', `${op}: queueSize must be a positive integer, got ${n}`, {
      field: 'queueSize',
    });
  }
  return n;
}
