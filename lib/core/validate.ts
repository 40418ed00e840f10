/**
 * Input validation for actions. Zod is the source of truth; for schemas whose parse cannot
 * change a valid input (no defaults, transforms, coercion, refinements) a JSON Schema
 * validator compiled once by Ajv answers the common "input is valid" case in well under a
 * microsecond, and zod runs only to explain a rejection. Bench 11 measured zod's
 * `safeParse` at 18-25 µs per call between spawns (caches cold after fork/exec), about 5%
 * of a `/bin/true` run on its own.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import * as z from 'zod';

/** What validating an input gives: the value the handler sees, or the first broken field. */
export type Validation =
  | { ok: true; value: unknown }
  | { ok: false; field: string; message: string; cause: z.ZodError };

/** A compiled input check for one schema. */
export type InputValidator = (input: unknown) => Validation;

// Node types and checks whose parse returns a valid input unchanged (deep-equal). Anything
// else (default, prefault, transform, pipe, catch, coerce, custom refinements, overwrite
// checks such as trim) can rewrite or reject beyond what JSON Schema says, so it keeps zod.
const IDENTITY_TYPES = new Set([
  'string',
  'number',
  'boolean',
  'null',
  'literal',
  'enum',
  'object',
  'array',
  'record',
  'union',
  'optional',
  'nullable',
  'any',
  'unknown',
  // A strict object's catchall: it only rejects (additionalProperties: false), never rewrites.
  'never',
]);
const IDENTITY_CHECKS = new Set([
  'min_length',
  'max_length',
  'length_equals',
  'greater_than',
  'less_than',
  'multiple_of',
  'number_format',
]);

interface ZodDefLike {
  type: string;
  coerce?: boolean;
  checks?: Array<{ _zod: { def: { check: string; format?: string } } }>;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  innerType?: z.ZodType;
}

function defOf(schema: z.ZodType): ZodDefLike {
  return (schema as unknown as { _zod: { def: ZodDefLike } })._zod.def;
}

/** True when parsing a valid input with this schema returns it unchanged. */
export function parseIsIdentity(schema: z.ZodType): boolean {
  const def = defOf(schema);
  if (!IDENTITY_TYPES.has(def.type) || def.coerce === true) return false;
  for (const check of def.checks ?? []) {
    const c = check._zod.def;
    const regex = c.check === 'string_format' && c.format === 'regex';
    if (!regex && !IDENTITY_CHECKS.has(c.check)) return false;
  }
  const children: z.ZodType[] = [
    ...Object.values(def.shape ?? {}),
    ...(def.options ?? []),
    ...[def.catchall, def.element, def.valueType, def.innerType].filter(
      (s): s is z.ZodType => s !== undefined,
    ),
  ];
  // Record keys beyond plain strings (enums, literals) make zod demand every key.
  if (def.type === 'record' && (def.keyType === undefined || !isPlainString(def.keyType))) {
    return false;
  }
  return children.every(parseIsIdentity);
}

function isPlainString(schema: z.ZodType): boolean {
  const def = defOf(schema);
  return def.type === 'string' && (def.checks ?? []).length === 0 && def.coerce !== true;
}

let ajv: Ajv2020 | undefined;

// The JSON Schema of the parse's *output* side: for a stripping object it says
// additionalProperties: false, so an input zod would strip takes the zod path.
function compileFast(schema: z.ZodType): ValidateFunction | undefined {
  if (!parseIsIdentity(schema)) return undefined;
  try {
    const json = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'throw' });
    ajv ??= new Ajv2020({ strict: true, strictNumbers: true, allErrors: false });
    return ajv.compile(json);
  } catch {
    return undefined; // not expressible for Ajv: zod alone is still correct
  }
}

function zodCheck(schema: z.ZodType, input: unknown): Validation {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  let issue = parsed.error.issues[0];
  // A union (env: a K=V list or an object) names the deepest issue of its closest branch,
  // not just itself: `env.A`, not `env`.
  while (issue?.code === 'invalid_union' && issue.errors.length > 0) {
    const branches = issue.errors
      .map((branch) => branch[0])
      .filter((i): i is z.core.$ZodIssue => i !== undefined);
    const deepest = branches.reduce<z.core.$ZodIssue | undefined>(
      (best, i) => (best === undefined || i.path.length > best.path.length ? i : best),
      undefined,
    );
    if (deepest === undefined || deepest.path.length === 0) break;
    issue = { ...deepest, path: [...issue.path, ...deepest.path] } as z.core.$ZodIssue;
  }
  // An unknown key is named itself, not the object holding it.
  const at =
    issue?.code === 'unrecognized_keys' && issue.keys[0] !== undefined
      ? [...issue.path, issue.keys[0]]
      : (issue?.path ?? []);
  const field = at.length > 0 ? at.map(String).join('.') : '(root)';
  return {
    ok: false,
    field,
    message: issue?.message ?? 'rejected by schema',
    cause: parsed.error,
  };
}

/**
 * Builds the input check for a schema; the fast path is compiled at the first call.
 *
 * @example
 * const check = inputValidator(z.object({ command: z.string().min(1) }));
 * check({ command: '' }); // { ok: false, field: 'command', message: 'Too small: ...' }
 */
export function inputValidator(schema: z.ZodType): InputValidator {
  let fast: ValidateFunction | undefined | null = null;
  return (input) => {
    if (fast === null) fast = compileFast(schema);
    // The handler then sees the caller's own object, exactly as zod would have returned it.
    if (fast?.(input) === true) return { ok: true, value: input };
    return zodCheck(schema, input);
  };
}
