// Result helpers: values instead of exceptions.
import { describe, expect, it } from 'vitest';
import {
  attempt,
  fail,
  isFail,
  isOk,
  isResult,
  ok,
  unwrap,
  valueOr,
} from '../../lib/core/index.js';

describe('attempt', () => {
  it('good: a returned or resolved value is ok', async () => {
    expect(await attempt(() => 1)).toEqual({ ok: true, value: 1 });
    expect(await attempt(async () => 2)).toEqual({ ok: true, value: 2 });
  });

  it('bad: a throw or rejection is a failed Result, never a rejection', async () => {
    const r = await attempt(() => {
      throw new Error('no');
    });
    expect(isFail(r) && r.error.message).toBe('no');
  });

  it('ugly: a thrown non-Error becomes an Error carrying it', async () => {
    const r = await attempt(() => Promise.reject(42));
    expect(!r.ok && r.error).toBeInstanceOf(Error);
    expect(!r.ok && r.error.cause).toBe(42);
  });
});

describe('unwrap/valueOr/isOk/isResult', () => {
  it('good: unwrap and valueOr give the value of an ok Result', () => {
    expect(unwrap(ok('v'))).toBe('v');
    expect(valueOr(ok('v'), 'd')).toBe('v');
    expect(isOk(ok(1))).toBe(true);
  });

  it('bad: unwrap throws the error of a failed Result; valueOr falls back', () => {
    const e = new Error('x');
    expect(() => unwrap(fail(e))).toThrow(e);
    expect(valueOr(fail(e), 'd')).toBe('d');
  });

  it('ugly: isResult tells Results from look-alikes', () => {
    expect(isResult(ok(undefined))).toBe(true);
    expect(isResult(fail(new Error('x')))).toBe(true);
    expect(isResult({ ok: true })).toBe(false);
    expect(isResult({ ok: false, error: 'string' })).toBe(false);
    expect(isResult(null)).toBe(false);
  });
});
