// Entitlements: the checker's answer, quantities, usage and the Entitlement helpers.
import { describe, expect, it } from 'vitest';
import { Entitlement } from '../../lib/core/index.js';
import { testCore, until } from './helpers.js';

describe('core.entitled', () => {
  it('good: the default is allowed and unlimited', () => {
    const e = testCore().entitled('anything');
    expect(e).toMatchObject({
      allowed: true,
      unlimited: true,
      remaining: Number.POSITIVE_INFINITY,
      reason: '',
    });
  });

  it('bad: a quota checker denies once recorded usage plus quantity passes the limit', async () => {
    const core = testCore();
    core.setEntitlementChecker((action, qty, ctx) =>
      action === 'ai.credits'
        ? {
            allowed: ctx.used + qty <= 10,
            limit: 10,
            used: ctx.used,
            reason: 'credit quota exhausted',
          }
        : { allowed: true, unlimited: true },
    );
    expect(core.entitled('ai.credits', 10).allowed).toBe(true);
    core.recordUsage('ai.credits', 8);
    const e = core.entitled('ai.credits', 3);
    expect(e).toMatchObject({
      allowed: false,
      limit: 10,
      used: 8,
      remaining: 2,
      reason: 'credit quota exhausted',
    });
    core.action('ai.credits', () => 'spent');
    const r = await core.action('ai.credits').run(undefined, { quantity: 3 });
    expect(!r.ok && r.error.kind).toBe('NotEntitled');
    expect((await core.action('ai.credits').run(undefined, { quantity: 2 })).ok).toBe(true);
  });

  it('ugly: the checker sees the caller context; a checker that throws denies', () => {
    const core = testCore();
    core.setEntitlementChecker((_a, _q, ctx) => ({
      allowed: ctx.data.workspace === 'paid',
      reason: 'free tier',
    }));
    expect(core.entitled('x', 1, { workspace: 'paid' }).allowed).toBe(true);
    expect(core.entitled('x', 1, { workspace: 'free' })).toMatchObject({
      allowed: false,
      reason: 'free tier',
    });
    core.setEntitlementChecker(() => {
      throw new Error('oops');
    });
    expect(core.entitled('x').allowed).toBe(false);
  });
});

describe('entitlement.denied (seed 001 §21.9)', () => {
  it('good: a denial asked through core.entitled() is logged and published, an allowance is not', async () => {
    const core = testCore();
    core.setEntitlementChecker((action) =>
      action === 'ai.credits' ? { allowed: false, reason: 'quota' } : { allowed: true },
    );
    const seen: unknown[] = [];
    core.events.subscribe('entitlement.denied', (e) => {
      seen.push(e.payload);
    });
    expect(core.entitled('other').allowed).toBe(true);
    expect(core.entitled('ai.credits', 5).allowed).toBe(false);
    await until(() => seen.length === 1);
    expect(seen).toEqual([{ core: 'test', action: 'ai.credits', quantity: 5, reason: 'quota' }]);
    expect(core.log).toEqual([
      {
        level: 'warn',
        message: 'entitlement denied: ai.credits',
        fields: { action: 'ai.credits', quantity: 5, reason: 'quota' },
      },
    ]);
  });

  it('bad: a denied action run publishes entitlement.denied too', async () => {
    const core = testCore();
    core.action('x.y', () => 1);
    core.setEntitlementChecker(() => ({ allowed: false }));
    const topics: string[] = [];
    core.events.subscribe('*.denied', (e) => {
      topics.push(e.topic);
    });
    expect((await core.action('x.y').run()).ok).toBe(false);
    await until(() => topics.length === 2);
    expect(topics.sort()).toEqual(['entitlement.denied', 'security.denied']);
  });
});

describe('core.recordUsage', () => {
  it('good: accumulates per action and publishes entitlement.usage', async () => {
    const core = testCore();
    const stream = core.events.stream('entitlement.usage');
    core.recordUsage('a', 2);
    core.recordUsage('a');
    expect(core.usage('a')).toBe(3);
    expect((await stream.next()).value?.payload).toMatchObject({
      action: 'a',
      quantity: 2,
      used: 2,
    });
    await stream.return?.();
  });

  it('bad: a negative quantity is refused', () => {
    expect(() => testCore().recordUsage('a', -1)).toThrow(/quantity must be >= 0/);
  });

  it('ugly: unknown actions start at zero', () => {
    expect(testCore().usage('never')).toBe(0);
  });
});

describe('Entitlement.nearLimit/usagePercent', () => {
  it('good: computes usage against a finite limit', () => {
    const e = new Entitlement({ allowed: true, limit: 4, used: 3 });
    expect(e.usagePercent()).toBe(75);
    expect(e.nearLimit(0.8)).toBe(false);
    expect(e.nearLimit(0.75)).toBe(true);
    expect(e.remaining).toBe(1);
  });

  it('bad: a boolean gate (limit 0) is never near a limit', () => {
    const e = new Entitlement({ allowed: false, reason: 'no' });
    expect(e.nearLimit()).toBe(false);
    expect(e.usagePercent()).toBe(0);
  });

  it('ugly: unlimited ignores limit and used; over-use keeps remaining at 0', () => {
    expect(new Entitlement({ allowed: true, unlimited: true, limit: 1, used: 5 }).nearLimit()).toBe(
      false,
    );
    expect(new Entitlement({ allowed: true, limit: 2, used: 5 }).remaining).toBe(0);
  });
});
