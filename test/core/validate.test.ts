// Input validation: the compiled fast path must give the handler exactly what zod's parse
// would, and every rejection must still name the field zod names.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { inputValidator, parseIsIdentity } from '../../lib/core/validate.js';
import { processRunInputSchema, processStartInputSchema } from '../../lib/index.js';

describe('parseIsIdentity', () => {
  it('good: plain objects, strings with length and regex checks, unions, records', () => {
    expect(parseIsIdentity(processRunInputSchema)).toBe(true);
    expect(parseIsIdentity(processStartInputSchema)).toBe(true);
    const s = z.object({
      name: z.string().regex(/^[a-z]+$/),
      n: z.int().min(0).max(9).optional(),
      mode: z.enum(['a', 'b']).nullable(),
      tags: z.record(z.string(), z.union([z.string(), z.number()])),
    });
    expect(parseIsIdentity(s)).toBe(true);
  });

  it('bad: anything that can rewrite a valid input keeps zod', () => {
    expect(parseIsIdentity(z.object({ a: z.string().default('x') }))).toBe(false);
    expect(parseIsIdentity(z.object({ a: z.string().trim() }))).toBe(false);
    expect(parseIsIdentity(z.object({ a: z.coerce.number() }))).toBe(false);
    expect(parseIsIdentity(z.string().transform((s) => s.length))).toBe(false);
    expect(parseIsIdentity(z.string().refine((s) => s !== 'no'))).toBe(false);
    expect(parseIsIdentity(z.record(z.enum(['a', 'b']), z.string()))).toBe(false);
  });

  it('ugly: a rewriting node deep inside an otherwise plain schema is found', () => {
    const deep = z.object({ a: z.array(z.object({ b: z.union([z.string(), z.date()]) })) });
    expect(parseIsIdentity(deep)).toBe(false);
  });
});

describe('inputValidator', () => {
  it('good: a valid input reaches the handler as zod would return it', () => {
    const check = inputValidator(processRunInputSchema);
    const input = { command: 'ls', args: ['-l'], env: { A: '1' } };
    expect(check(input)).toEqual({ ok: true, value: processRunInputSchema.parse(input) });
  });

  it('bad: a rejection names the field and keeps zod message and error', () => {
    const check = inputValidator(processRunInputSchema);
    const r = check({ command: 'ls', args: ['-l', 3] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.field).toBe('args.1');
    expect(r.message).toMatch(/string/);
    expect(r.cause).toBeInstanceOf(z.ZodError);
    expect(check({ command: '' })).toMatchObject({ ok: false, field: 'command' });
    expect(check(null)).toMatchObject({ ok: false, field: '(root)' });
  });

  it('ugly: keys zod strips are stripped, defaults applied, NaN refused, refinements run', () => {
    const strip = inputValidator(z.object({ a: z.string() }));
    expect(strip({ a: 'x', extra: 1 })).toEqual({ ok: true, value: { a: 'x' } });
    const defaults = inputValidator(z.object({ a: z.string().default('d') }));
    expect(defaults({})).toEqual({ ok: true, value: { a: 'd' } });
    const num = inputValidator(z.object({ n: z.number() }));
    expect(num({ n: Number.NaN })).toMatchObject({ ok: false, field: 'n' });
    expect(num({ n: Number.POSITIVE_INFINITY })).toMatchObject({ ok: false, field: 'n' });
    const refined = inputValidator(z.object({ s: z.string().refine((s) => s !== 'no') }));
    expect(refined({ s: 'no' })).toMatchObject({ ok: false, field: 's' });
    const loose = inputValidator(processStartInputSchema);
    expect(loose({ command: 'x', timeout: 5 })).toEqual({
      ok: true,
      value: { command: 'x', timeout: 5 },
    });
  });
});
