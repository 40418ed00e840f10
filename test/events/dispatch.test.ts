// dispatch: validate first, then deliver in declared order, one at a time; a failing
// subscriber is isolated, counted and reported with one exact stderr line.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type DispatchResult, dispatch, dispatchExitCode } from '../../lib/events/dispatch.js';
import type { EventEnvelope } from '../../lib/events/envelope.js';
import type { Subscriber } from '../../lib/events/subscriber.js';
import { EnvelopeValidationError } from '../../lib/events/validate.js';
import { validEvent } from './helpers.js';

interface Recorder extends Subscriber {
  got: EventEnvelope[];
}

const log: string[] = [];
let active = 0;
let maxActive = 0;

function recorder(name: string, delayMs = 0): Recorder {
  const got: EventEnvelope[] = [];
  return {
    name,
    got,
    async deliver(event) {
      active++;
      maxActive = Math.max(maxActive, active);
      log.push(`start ${name}`);
      await new Promise((r) => setTimeout(r, delayMs));
      got.push(event);
      log.push(`end ${name}`);
      active--;
    },
  };
}

function failing(name: string, thrown: unknown): Recorder {
  return {
    name,
    got: [],
    async deliver() {
      log.push(`fail ${name}`);
      throw thrown;
    },
  };
}

afterEach(() => {
  log.length = 0;
  active = 0;
  maxActive = 0;
  vi.restoreAllMocks();
});

describe('dispatch', () => {
  it('good: delivers to every subscriber in declared order, one at a time, printing nothing', async () => {
    const lines: string[] = [];
    // The slow one first: a concurrent fan-out would finish b and c before a.
    const subs = [recorder('a', 40), recorder('b', 5), recorder('c', 0)];
    const event = validEvent();
    const r = await dispatch(event, subs, { stderr: (l) => lines.push(l) });
    expect(r).toEqual({ validationError: null, delivered: 3, failed: 0, failures: [] });
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(maxActive).toBe(1);
    for (const s of subs) expect(s.got).toEqual([event]);
    expect(lines).toEqual([]);
  });

  it('good: the abort signal reaches every subscriber', async () => {
    const seen: Array<AbortSignal | undefined> = [];
    const sub: Subscriber = {
      name: 's',
      deliver: async (_e, signal) => {
        seen.push(signal);
      },
    };
    const controller = new AbortController();
    await dispatch(validEvent(), [sub, sub], { signal: controller.signal, stderr: () => {} });
    expect(seen).toEqual([controller.signal, controller.signal]);
  });

  it('bad: a throwing subscriber between two good ones is isolated: both good ones deliver', async () => {
    const lines: string[] = [];
    const boom = new Error('disk full');
    const subs = [recorder('first'), failing('middle', boom), recorder('last')];
    const r = await dispatch(validEvent(), subs, { stderr: (l) => lines.push(l) });
    expect(r.delivered).toBe(2);
    expect(r.failed).toBe(1);
    expect(r.failures).toEqual([{ subscriber: 'middle', error: boom }]);
    expect(subs[0]?.got).toHaveLength(1);
    expect(subs[2]?.got).toHaveLength(1);
    expect(log).toEqual(['start first', 'end first', 'fail middle', 'start last', 'end last']);
    expect(lines).toEqual([
      'event-dispatch failure: subscriber=middle event=process.started error="disk full"',
    ]);
  });

  it('bad: an invalid envelope calls no subscriber and prints nothing', async () => {
    const lines: string[] = [];
    const sub = recorder('never');
    const e = validEvent();
    e.name = 'NotDotted';
    const r = await dispatch(e, [sub], { stderr: (l) => lines.push(l) });
    expect(r.validationError).toBeInstanceOf(EnvelopeValidationError);
    expect(r.validationError?.field).toBe('name');
    expect(r).toMatchObject({ delivered: 0, failed: 0, failures: [] });
    expect(sub.got).toEqual([]);
    expect(log).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('ugly: quotes, backslashes and newlines in the message are escaped on one line', async () => {
    const lines: string[] = [];
    const msg = 'hook said "no" in C:\\hooks\\x\nsecond line\r';
    await dispatch(validEvent(), [failing('exec:./hook --flag', new Error(msg))], {
      stderr: (l) => lines.push(l),
    });
    expect(lines).toEqual([
      'event-dispatch failure: subscriber=exec:./hook --flag event=process.started error="hook said \\"no\\" in C:\\\\hooks\\\\x\\nsecond line\\r"',
    ]);
    expect(lines[0]).not.toMatch(/[\n\r]/);
  });

  it('ugly: a non-Error throw is converted to an Error and still isolated', async () => {
    const lines: string[] = [];
    const subs = [failing('str', 'plain string'), failing('obj', { code: 7 }), recorder('ok')];
    const r = await dispatch(validEvent(), subs, { stderr: (l) => lines.push(l) });
    expect(r.delivered).toBe(1);
    expect(
      r.failures.map((f) => [f.subscriber, f.error instanceof Error, f.error.message]),
    ).toEqual([
      ['str', true, 'plain string'],
      ['obj', true, 'non-Error value thrown: {"code":7}'],
    ]);
    expect(lines).toEqual([
      'event-dispatch failure: subscriber=str event=process.started error="plain string"',
      'event-dispatch failure: subscriber=obj event=process.started error="non-Error value thrown: {\\"code\\":7}"',
    ]);
  });

  it('ugly: without a stderr option the line goes to process.stderr, newline-terminated', async () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    await dispatch(validEvent(), [failing('x', new Error('bad'))]);
    expect(written).toEqual([
      'event-dispatch failure: subscriber=x event=process.started error="bad"\n',
    ]);
  });
});

describe('dispatchExitCode', () => {
  const result = (r: Partial<DispatchResult>): DispatchResult => ({
    validationError: null,
    delivered: 0,
    failed: 0,
    failures: [],
    ...r,
  });

  it('good: 0 when every subscriber delivered, and when none is configured', async () => {
    expect(dispatchExitCode(result({ delivered: 2 }), 2)).toBe(0);
    expect(dispatchExitCode(await dispatch(validEvent(), []), 0)).toBe(0);
  });

  it('good: 0 when at least one delivered even though others failed', async () => {
    const r = await dispatch(validEvent(), [failing('a', new Error('x')), recorder('b')], {
      stderr: () => {},
    });
    expect(dispatchExitCode(r, 2)).toBe(0);
  });

  it('bad: 2 for an invalid envelope, whatever the counts', async () => {
    const e = validEvent();
    e.version = 0;
    const r = await dispatch(e, [recorder('a')]);
    expect(dispatchExitCode(r, 1)).toBe(2);
    expect(dispatchExitCode(result({ validationError: r.validationError, delivered: 5 }), 0)).toBe(
      2,
    );
  });

  it('bad: 10 when every configured subscriber failed', async () => {
    const r = await dispatch(validEvent(), [failing('a', new Error('x')), failing('b', 'y')], {
      stderr: () => {},
    });
    expect(r.failed).toBe(2);
    expect(dispatchExitCode(r, 2)).toBe(10);
  });

  it('ugly: 10 when subscribers were configured but the result shows no delivery at all', () => {
    expect(dispatchExitCode(result({}), 3)).toBe(10);
  });
});
