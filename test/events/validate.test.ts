// Envelope validation: each rule of the contract, the exact message for each, first failure
// wins, and purity (frozen input, any clock, same answer).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EnvelopeValidationError, validate } from '../../lib/events/validate.js';
import { validEvent } from './helpers.js';

const NAME_RULE = 'must match ^[a-z][a-z0-9]*(\\.[a-z][a-z0-9-]*)+$';
const UUID_RULE =
  'must match ^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
const TIMESTAMP_RULE =
  'must match ^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(\\.\\d+)?Z$';
const KIND_RULE = 'must be one of user, service, system, agent';

type Mutation = (e: Record<string, unknown> & ReturnType<typeof validEvent>) => void;

interface Case {
  what: string;
  mutate: Mutation;
  field: string;
  rule: string;
  value: string;
}

function cycle(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

const cases: Case[] = [
  {
    what: 'a missing name',
    mutate: (e) => delete (e as Partial<typeof e>).name,
    field: 'name',
    rule: 'must be a string',
    value: 'undefined',
  },
  {
    what: 'an empty name',
    mutate: (e) => (e.name = ''),
    field: 'name',
    rule: 'must not be empty',
    value: '',
  },
  {
    what: 'an upper-case name',
    mutate: (e) => (e.name = 'Process.Started'),
    field: 'name',
    rule: NAME_RULE,
    value: '"Process.Started"',
  },
  {
    what: 'a name without a dot',
    mutate: (e) => (e.name = 'started'),
    field: 'name',
    rule: NAME_RULE,
    value: '"started"',
  },
  {
    what: 'version 0',
    mutate: (e) => (e.version = 0),
    field: 'version',
    rule: 'must be an integer >= 1',
    value: '0',
  },
  {
    what: 'a fractional version',
    mutate: (e) => (e.version = 1.5),
    field: 'version',
    rule: 'must be an integer >= 1',
    value: '1.5',
  },
  {
    what: 'a version given as a string',
    mutate: (e) => (e.version = '1' as unknown as number),
    field: 'version',
    rule: 'must be an integer >= 1',
    value: '"1"',
  },
  {
    what: 'an empty uuid',
    mutate: (e) => (e.uuid = ''),
    field: 'uuid',
    rule: 'must not be empty',
    value: '',
  },
  {
    what: 'an upper-case uuid',
    mutate: (e) => (e.uuid = '0192F7A4-7C3E-7B1A-9C2D-3E4F5A6B7C8D'),
    field: 'uuid',
    rule: UUID_RULE,
    value: '"0192F7A4-7C3E-7B1A-9C2D-3E4F5A6B7C8D"',
  },
  {
    what: 'a uuid with version nibble 0',
    mutate: (e) => (e.uuid = '0192f7a4-7c3e-0b1a-9c2d-3e4f5a6b7c8d'),
    field: 'uuid',
    rule: UUID_RULE,
    value: '"0192f7a4-7c3e-0b1a-9c2d-3e4f5a6b7c8d"',
  },
  {
    what: 'a uuid with variant c',
    mutate: (e) => (e.uuid = '0192f7a4-7c3e-7b1a-cc2d-3e4f5a6b7c8d'),
    field: 'uuid',
    rule: UUID_RULE,
    value: '"0192f7a4-7c3e-7b1a-cc2d-3e4f5a6b7c8d"',
  },
  {
    what: 'a uuid without dashes',
    mutate: (e) => (e.uuid = '0192f7a47c3e7b1a9c2d3e4f5a6b7c8d'),
    field: 'uuid',
    rule: UUID_RULE,
    value: '"0192f7a47c3e7b1a9c2d3e4f5a6b7c8d"',
  },
  {
    what: 'a timestamp with a zone offset',
    mutate: (e) => (e.timestamp = '2026-03-01T12:00:00+02:00'),
    field: 'timestamp',
    rule: TIMESTAMP_RULE,
    value: '"2026-03-01T12:00:00+02:00"',
  },
  {
    what: 'a timestamp as a number',
    mutate: (e) => (e.timestamp = 1767225600000 as unknown as string),
    field: 'timestamp',
    rule: 'must be a string',
    value: '1767225600000',
  },
  {
    what: 'February 30th',
    mutate: (e) => (e.timestamp = '2026-02-30T00:00:00Z'),
    field: 'timestamp',
    rule: 'must be a real calendar date and time',
    value: '"2026-02-30T00:00:00Z"',
  },
  {
    what: 'February 29th of a non-leap year',
    mutate: (e) => (e.timestamp = '2100-02-29T00:00:00Z'),
    field: 'timestamp',
    rule: 'must be a real calendar date and time',
    value: '"2100-02-29T00:00:00Z"',
  },
  {
    what: 'hour 24',
    mutate: (e) => (e.timestamp = '2026-03-01T24:00:00Z'),
    field: 'timestamp',
    rule: 'must be a real calendar date and time',
    value: '"2026-03-01T24:00:00Z"',
  },
  {
    what: 'a missing actor',
    mutate: (e) => delete (e as Partial<typeof e>).actor,
    field: 'actor',
    rule: 'must be an object',
    value: 'undefined',
  },
  {
    what: 'an unknown actor kind',
    mutate: (e) => (e.actor.kind = 'robot' as 'user'),
    field: 'actor.kind',
    rule: KIND_RULE,
    value: '"robot"',
  },
  {
    what: 'an empty actor id',
    mutate: (e) => (e.actor.id = ''),
    field: 'actor.id',
    rule: 'must not be empty',
    value: '',
  },
  {
    what: 'an artifact given as a string',
    mutate: (e) => (e.artifact = 'process' as unknown as typeof e.artifact),
    field: 'artifact',
    rule: 'must be an object',
    value: '"process"',
  },
  {
    what: 'an empty artifact type',
    mutate: (e) => (e.artifact.type = ''),
    field: 'artifact.type',
    rule: 'must not be empty',
    value: '',
  },
  {
    what: 'an artifact type with a dot',
    mutate: (e) => (e.artifact.type = 'process.group'),
    field: 'artifact.type',
    rule: 'must match ^[a-z][a-z0-9-]*$',
    value: '"process.group"',
  },
  {
    what: 'an empty artifact id',
    mutate: (e) => (e.artifact.id = ''),
    field: 'artifact.id',
    rule: 'must not be empty',
    value: '',
  },
  {
    what: 'a numeric artifact path',
    mutate: (e) => (e.artifact.path = 3 as unknown as string),
    field: 'artifact.path',
    rule: 'must be a string',
    value: '3',
  },
  {
    what: 'a null artifact revision',
    mutate: (e) => (e.artifact.revision = null as unknown as string),
    field: 'artifact.revision',
    rule: 'must be a string',
    value: 'null',
  },
  {
    what: 'a null payload',
    mutate: (e) => (e.payload = null as unknown as Record<string, unknown>),
    field: 'payload',
    rule: 'must be a JSON object',
    value: 'null',
  },
  {
    what: 'an array payload',
    mutate: (e) => (e.payload = [1, 2] as unknown as Record<string, unknown>),
    field: 'payload',
    rule: 'must be a JSON object',
    value: '[1,2]',
  },
  {
    what: 'a function inside the payload',
    mutate: (e) => (e.payload = { ok: 1, nested: { onExit: () => {} } }),
    field: 'payload',
    rule: 'must be JSON-serialisable',
    value: 'payload.nested.onExit (function)',
  },
  {
    what: 'a bigint inside the payload',
    mutate: (e) => (e.payload = { list: [1, 2n] }),
    field: 'payload',
    rule: 'must be JSON-serialisable',
    value: 'payload.list[1] (bigint)',
  },
  {
    what: 'a cycle inside the payload',
    mutate: (e) => (e.payload = { inner: cycle() }),
    field: 'payload',
    rule: 'must be JSON-serialisable',
    value: 'payload.inner.self (cycle)',
  },
  {
    what: 'NaN inside the payload',
    mutate: (e) => (e.payload = { durationMs: Number.NaN }),
    field: 'payload',
    rule: 'must be JSON-serialisable',
    value: 'payload.durationMs (NaN)',
  },
  {
    what: 'a Date inside the payload (it would come back as a string)',
    mutate: (e) => (e.payload = { at: new Date(0) }),
    field: 'payload',
    rule: 'must be JSON-serialisable',
    value: 'payload.at ([object Date])',
  },
];

describe('validate', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('good: a valid envelope passes', () => {
    expect(validate(validEvent())).toBeNull();
  });

  it('good: edge values inside the rules pass (leap day, fraction, hyphenated name, v8 uuid, empty path)', () => {
    const e = validEvent({ nested: { list: [1, 'two', null, true] }, optional: undefined });
    e.name = 'daemon.gave-up';
    e.timestamp = '2024-02-29T23:59:59.123456789Z';
    e.uuid = '0192f7a4-7c3e-8b1a-bc2d-3e4f5a6b7c8d';
    e.actor = { kind: 'agent', id: 'a' };
    e.artifact = { type: 'process-group', id: 'x', path: '', revision: '' };
    expect(validate(e)).toBeNull();
  });

  it.each(cases)('bad: $what -> field=$field', ({ mutate, field, rule, value }) => {
    const e = validEvent();
    mutate(e as Parameters<Mutation>[0]);
    const err = validate(e);
    expect(err).toBeInstanceOf(EnvelopeValidationError);
    expect({ field: err?.field, rule: err?.rule, value: err?.value }).toEqual({
      field,
      rule,
      value,
    });
    expect(err?.message).toBe(
      `envelope validation failed: field=${field} value=${value} rule=${rule}`,
    );
  });

  it('bad: something that is not an object fails on the event itself', () => {
    for (const [input, value] of [
      [null, 'null'],
      ['process.started', '"process.started"'],
      [[validEvent()], expect.stringMatching(/^\[\{"name":"process.started"/)],
    ] as const) {
      const err = validate(input);
      expect(err).toMatchObject({ field: 'event', rule: 'must be a plain object', value });
    }
  });

  it('ugly: the first failing rule in contract order wins, whatever the key order', () => {
    const e = validEvent();
    const reordered = {
      payload: null,
      artifact: {},
      actor: {},
      timestamp: 'x',
      uuid: 'x',
      version: 0,
      name: e.name,
    };
    expect(validate(reordered)?.field).toBe('version');
    expect(validate({ ...reordered, version: 1 })?.field).toBe('uuid');
  });

  it('ugly: a getter that throws is a verdict, not an exception', () => {
    const e = validEvent();
    Object.defineProperty(e.payload, 'boom', {
      enumerable: true,
      get() {
        throw new Error('no access');
      },
    });
    expect(validate(e)).toMatchObject({
      field: 'event',
      rule: 'must be readable',
      value: '"no access"',
    });
  });

  it('ugly: pure: a deeply frozen event, checked under two different clocks, gives the same answers', () => {
    const freeze = <T>(o: T): T => {
      if (o !== null && typeof o === 'object') {
        for (const v of Object.values(o)) freeze(v);
        Object.freeze(o);
      }
      return o;
    };
    const good = freeze({ ...validEvent(), timestamp: '9999-12-31T23:59:59Z' });
    const bad = freeze({ ...validEvent(), timestamp: '2026-02-30T00:00:00Z' });
    vi.useFakeTimers({ now: new Date('1971-01-01T00:00:00Z') });
    const first = [validate(good), validate(bad)?.message];
    vi.setSystemTime(new Date('2999-01-01T00:00:00Z'));
    const second = [validate(good), validate(bad)?.message];
    expect(first).toEqual([null, expect.stringContaining('field=timestamp')]);
    expect(second).toEqual(first);
  });
});
