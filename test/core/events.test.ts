// EventBus: glob subscriptions, non-blocking publish, bounded queues, isolated subscribers.
import { describe, expect, it } from 'vitest';
import { type CoreEvent, EventBus, type PanicPayload } from '../../lib/core/index.js';
import { recordingLogger, until } from './helpers.js';

describe('EventBus.publish', () => {
  it('good: returns the event synchronously with topic, payload, time and increasing seq', () => {
    const bus = new EventBus();
    const a = bus.publish('x.a', { n: 1 });
    const b = bus.publish('x.b', null);
    expect(a).toMatchObject({ topic: 'x.a', payload: { n: 1 } });
    expect(b.seq).toBe(a.seq + 1);
    expect(Math.abs(a.time - Date.now())).toBeLessThan(5000);
  });

  it('bad: an empty topic is refused', () => {
    expect(() => new EventBus().publish('', 1)).toThrow(/topic must be a non-empty string/);
  });

  it('ugly: publish does not wait for a subscriber, even one that never finishes', async () => {
    const bus = new EventBus();
    const got: number[] = [];
    bus.subscribe('t', async (e: CoreEvent<number>) => {
      got.push(e.payload);
      await new Promise(() => {});
    });
    for (let i = 0; i < 5; i++) bus.publish('t', i);
    expect(got).toEqual([]);
    await until(() => got.length === 1);
    expect(bus.stats().subscribers[0]?.queued).toBe(4);
  });
});

describe('EventBus.subscribe', () => {
  it('good: a glob subscription gets matching topics in order', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    bus.subscribe('process.*', (e) => {
      seen.push(e.topic);
    });
    for (const t of ['process.started', 'thread.started', 'process.exited', 'process.output.chunk'])
      bus.publish(t, {});
    await until(() => seen.length >= 2);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['process.started', 'process.exited']);
  });

  it('bad: a slow subscriber over its bound drops and counts, others are unaffected', async () => {
    const bus = new EventBus({ queueSize: 1024 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow: number[] = [];
    bus.subscribe(
      'load.*',
      async (e: CoreEvent<number>) => {
        await gate;
        slow.push(e.payload);
      },
      { name: 'slow', queueSize: 10 },
    );
    const fast: number[] = [];
    bus.subscribe('load.*', (e: CoreEvent<number>) => {
      fast.push(e.payload);
    });
    for (let i = 0; i < 50; i++) bus.publish('load.tick', i);
    const stats = bus.stats();
    expect(stats.dropped).toBe(40);
    expect(stats.subscribers.find((s) => s.name === 'slow')).toMatchObject({
      dropped: 40,
      queued: 10,
    });
    release();
    await until(() => slow.length === 10 && fast.length === 50);
    expect(slow).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('ugly: a throwing subscriber is isolated, counted and reported as plugin.<name>.panic', async () => {
    const logger = recordingLogger();
    const bus = new EventBus({ logger });
    const panics: CoreEvent<PanicPayload>[] = [];
    bus.subscribe('plugin.*.panic', (e: CoreEvent<PanicPayload>) => {
      panics.push(e);
    });
    bus.subscribe(
      'job.*',
      (e) => {
        if (e.topic === 'job.bad') throw new Error('subscriber bug');
      },
      { name: 'audit' },
    );
    const ok: string[] = [];
    const off = bus.subscribe('job.*', (e) => {
      ok.push(e.topic);
    });
    bus.publish('job.bad', 1);
    bus.publish('job.good', 2);
    await until(() => panics.length === 1 && ok.length === 2);
    expect(panics[0]?.topic).toBe('plugin.audit.panic');
    expect(panics[0]?.payload).toMatchObject({
      subscriber: 'audit',
      topic: 'job.bad',
      error: 'subscriber bug',
      panics: 1,
    });
    expect(bus.stats().panics).toBe(1);
    expect(logger.lines[0]?.message).toContain("subscriber 'audit'");
    off();
    bus.publish('job.good', 3);
    await new Promise((r) => setImmediate(r));
    expect(ok).toEqual(['job.bad', 'job.good']);
  });

  it('ugly: a subscriber throwing on panic events is counted, not fed back to itself', async () => {
    const bus = new EventBus();
    bus.subscribe(
      '**',
      () => {
        throw new Error('always');
      },
      { name: 'loop' },
    );
    bus.publish('x', 1);
    await until(() => bus.stats().panics === 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(bus.stats().panics).toBe(2);
  });
});

describe('EventBus.stream', () => {
  it('good: yields matching events in order to for await', async () => {
    const bus = new EventBus();
    const got: string[] = [];
    const done = (async () => {
      for await (const e of bus.stream('process.*')) {
        got.push(e.topic);
        if (e.topic === 'process.exited') break;
      }
    })();
    bus.publish('process.started', 1);
    bus.publish('other.thing', 2);
    bus.publish('process.exited', 3);
    await done;
    expect(got).toEqual(['process.started', 'process.exited']);
    expect(bus.stats().subscribers).toEqual([]);
  });

  it('bad: an unconsumed stream drops over its bound and counts', () => {
    const bus = new EventBus();
    const stream = bus.stream('t', { name: 'lazy', queueSize: 3 });
    for (let i = 0; i < 10; i++) bus.publish('t', i);
    expect(bus.stats().subscribers[0]).toMatchObject({ name: 'lazy', queued: 3, dropped: 7 });
    void stream.return?.();
  });

  it('ugly: an abort signal ends a waiting iteration', async () => {
    const bus = new EventBus();
    const ac = new AbortController();
    const stream = bus.stream('never', { signal: ac.signal });
    const pending = stream.next();
    ac.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(bus.stats().subscribers).toEqual([]);
  });
});

describe('EventBus.wants', () => {
  it('good: true exactly while a matching subscriber exists', () => {
    const bus = new EventBus();
    expect(bus.wants('process.output')).toBe(false);
    const off = bus.subscribe('process.*', () => {});
    expect(bus.wants('process.output')).toBe(true);
    expect(bus.wants('daemon.started')).toBe(false);
    off();
    expect(bus.wants('process.output')).toBe(false);
  });
});
