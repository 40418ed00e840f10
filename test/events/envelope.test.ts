// createEvent: fills in what the caller should not have to (uuid, timestamp, artifact
// defaults) and produces envelopes the validator accepts.
import { describe, expect, it } from 'vitest';
import { createEvent } from '../../lib/events/envelope.js';
import { validate } from '../../lib/events/validate.js';

const actor = { kind: 'service', id: 'app/process' } as const;

describe('createEvent', () => {
  it('good: a valid envelope with a fresh RFC 9562 uuid and an ISO UTC timestamp', () => {
    const before = Date.now();
    const e = createEvent(
      'process.started',
      { pid: 7 },
      {
        actor,
        artifact: { type: 'process', id: '7' },
      },
    );
    expect(validate(e)).toBeNull();
    expect(e).toMatchObject({
      name: 'process.started',
      version: 1,
      actor,
      artifact: { type: 'process', id: '7', path: '', revision: '' },
      payload: { pid: 7 },
    });
    const at = Date.parse(e.timestamp);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    const other = createEvent('process.started', {}, { actor, artifact: { type: 'p', id: '1' } });
    expect(other.uuid).not.toBe(e.uuid);
  });

  it('good: now, uuid, version and the full artifact are taken as given', () => {
    const e = createEvent(
      'daemon.gave-up',
      {},
      {
        actor,
        artifact: { type: 'daemon', id: 'web', path: '/srv/web', revision: 'abc123' },
        version: 3,
        now: new Date(Date.UTC(2026, 2, 1, 12, 0, 0, 5)),
        uuid: '0192f7a4-7c3e-7b1a-9c2d-3e4f5a6b7c8d',
      },
    );
    expect(e).toEqual({
      name: 'daemon.gave-up',
      version: 3,
      uuid: '0192f7a4-7c3e-7b1a-9c2d-3e4f5a6b7c8d',
      timestamp: '2026-03-01T12:00:00.005Z',
      actor,
      artifact: { type: 'daemon', id: 'web', path: '/srv/web', revision: 'abc123' },
      payload: {},
    });
  });

  it('bad: without an artifact the envelope is built but does not validate (artifact.type)', () => {
    const e = createEvent('process.started', {}, { actor });
    expect(e.artifact).toEqual({ type: '', id: '', path: '', revision: '' });
    expect(validate(e)).toMatchObject({ field: 'artifact.type', rule: 'must not be empty' });
  });

  it('ugly: the actor is copied, so mutating the caller object later does not rewrite the event', () => {
    const mine = { kind: 'user' as const, id: 'alice' };
    const e = createEvent('process.killed', {}, { actor: mine, artifact: { type: 'p', id: '1' } });
    mine.id = 'mallory';
    expect(e.actor.id).toBe('alice');
  });
});
