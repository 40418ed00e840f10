/**
 * Envelope validation: pure (no I/O, no clock), deterministic, first failing rule wins, so
 * the same bad event always produces the same message and tests can match it exactly.
 */
import { describe } from '../errors.js';
import type { ActorKind } from './envelope.js';

const NAME_PATTERN = '^[a-z][a-z0-9]*(\\.[a-z][a-z0-9-]*)+$';
const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$';
const TIMESTAMP_PATTERN = '^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(\\.\\d+)?Z$';
const ARTIFACT_TYPE_PATTERN = '^[a-z][a-z0-9-]*$';

const NAME_RE = new RegExp(NAME_PATTERN);
const UUID_RE = new RegExp(UUID_PATTERN);
const TIMESTAMP_RE = new RegExp(TIMESTAMP_PATTERN);
const ARTIFACT_TYPE_RE = new RegExp(ARTIFACT_TYPE_PATTERN);

const ACTOR_KINDS: ReadonlySet<string> = new Set<ActorKind>(['user', 'service', 'system', 'agent']);

/**
 * The first rule an envelope broke. `field` is a dotted path (`actor.kind`), `rule` the rule
 * in words (regex rules embed the pattern verbatim, so a log can be grepped for it).
 * @example
 * const err = validate({ ...event, name: 'Bad' });
 * err?.message; // envelope validation failed: field=name value="Bad" rule=must match ^[a-z]...$
 */
export class EnvelopeValidationError extends Error {
  readonly field: string;
  readonly rule: string;
  /** The offending value as printed; '' for an empty string that must not be empty. */
  readonly value: string;

  constructor(field: string, rule: string, value: string) {
    super(`envelope validation failed: field=${field} value=${value} rule=${rule}`);
    this.name = 'EnvelopeValidationError';
    this.field = field;
    this.rule = rule;
    this.value = value;
  }
}

// Payloads can be large; a validation error quotes the value short.
function render(value: unknown): string {
  return describe(value, 80);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// JSON objects only: a Map, a Date or a class instance would serialise to something else.
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isRecord(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function fail(field: string, rule: string, value: unknown): EnvelopeValidationError {
  return new EnvelopeValidationError(field, rule, render(value));
}

function checkString(field: string, value: unknown, pattern?: string, re?: RegExp) {
  if (typeof value !== 'string') return fail(field, 'must be a string', value);
  if (value === '') return new EnvelopeValidationError(field, 'must not be empty', '');
  if (pattern !== undefined && re !== undefined && !re.test(value)) {
    return fail(field, `must match ${pattern}`, value);
  }
  return null;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// Arithmetic, not Date.parse: Date rolls 2026-02-30 over to March 2 instead of refusing it.
// Leap second 60 is refused, as Go's time.Parse does, so both sides accept the same set.
function isRealDateTime(m: RegExpExecArray): boolean {
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59
  );
}

// Where a payload stops being JSON: the first member JSON.stringify would drop, change or
// choke on, as `payload.a.b (function)`. undefined object members are allowed: JSON has no
// undefined, and leaving an optional member out is what dropping it means.
function jsonProblem(value: unknown, path: string, seen: Set<object>): string | null {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} (${String(value)})`;
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return `${path} (${typeof value})`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return `${path} (cycle)`;
  if (Array.isArray(obj)) {
    seen.add(obj);
    for (let i = 0; i < obj.length; i++) {
      const problem = jsonProblem(obj[i], `${path}[${i}]`, seen);
      if (problem !== null) return problem;
    }
    seen.delete(obj);
    return null;
  }
  if (!isPlainObject(obj)) return `${path} (${Object.prototype.toString.call(obj)})`;
  seen.add(obj);
  for (const [key, member] of Object.entries(obj)) {
    if (member === undefined) continue;
    const problem = jsonProblem(member, `${path}.${key}`, seen);
    if (problem !== null) return problem;
  }
  seen.delete(obj);
  return null;
}

function check(event: unknown): EnvelopeValidationError | null {
  if (!isPlainObject(event)) return fail('event', 'must be a plain object', event);

  const nameError = checkString('name', event.name, NAME_PATTERN, NAME_RE);
  if (nameError) return nameError;

  const version = event.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    return fail('version', 'must be an integer >= 1', version);
  }

  const uuidError = checkString('uuid', event.uuid, UUID_PATTERN, UUID_RE);
  if (uuidError) return uuidError;

  const timestampError = checkString('timestamp', event.timestamp, TIMESTAMP_PATTERN, TIMESTAMP_RE);
  if (timestampError) return timestampError;
  const timestamp = TIMESTAMP_RE.exec(event.timestamp as string) as RegExpExecArray;
  if (!isRealDateTime(timestamp)) {
    return fail('timestamp', 'must be a real calendar date and time', event.timestamp);
  }

  const actor = event.actor;
  if (!isRecord(actor)) return fail('actor', 'must be an object', actor);
  if (typeof actor.kind !== 'string' || !ACTOR_KINDS.has(actor.kind)) {
    return fail('actor.kind', `must be one of ${[...ACTOR_KINDS].join(', ')}`, actor.kind);
  }
  const actorIdError = checkString('actor.id', actor.id);
  if (actorIdError) return actorIdError;

  const artifact = event.artifact;
  if (!isRecord(artifact)) return fail('artifact', 'must be an object', artifact);
  const typeError = checkString(
    'artifact.type',
    artifact.type,
    ARTIFACT_TYPE_PATTERN,
    ARTIFACT_TYPE_RE,
  );
  if (typeError) return typeError;
  const artifactIdError = checkString('artifact.id', artifact.id);
  if (artifactIdError) return artifactIdError;
  for (const field of ['path', 'revision'] as const) {
    if (typeof artifact[field] !== 'string') {
      return fail(`artifact.${field}`, 'must be a string', artifact[field]);
    }
  }

  const payload = event.payload;
  if (!isPlainObject(payload)) return fail('payload', 'must be a JSON object', payload);
  const problem = jsonProblem(payload, 'payload', new Set());
  if (problem !== null) {
    return new EnvelopeValidationError('payload', 'must be JSON-serialisable', problem);
  }
  return null;
}

/**
 * Checks an envelope against the event contract. Pure: no I/O, no clock, same input same
 * output. Returns null when valid, else the first failing field and rule.
 * @example
 * validate(createEvent('process.started', { pid: 1 }, {
 *   actor: { kind: 'service', id: 'app' }, artifact: { type: 'process', id: '1' },
 * })); // null
 * validate({ name: 'x' })?.field; // 'name' (no dot)
 */
export function validate(event: unknown): EnvelopeValidationError | null {
  try {
    return check(event);
  } catch (error) {
    // A throwing getter or a revoked Proxy: the event cannot be read, which is a verdict too.
    const reason = error instanceof Error ? error.message : String(error);
    return new EnvelopeValidationError('event', 'must be readable', render(reason));
  }
}
