/**
 * The bottom of the TS house: the error every layer throws for bad arguments and refused
 * system calls (ProcessError, with its `kind`), errno naming, and how an offending value is
 * quoted in a message. Nothing here imports a layer, so process, sched and thread can all
 * build on it without an arrow pointing up.
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { ExitStatus } from './exit-status.js';

export type ProcessErrorKind =
  | 'SpawnFailed'
  | 'TimedOut'
  | 'TerminatedBySignal'
  | 'InvalidCommand'
  | 'PermissionDenied'
  | 'Unsupported'
  | 'NonZeroExit'
  | 'NotFound';

export interface ProcessErrorDetails {
  /** errno name (`ENOENT`), exit code, signal name, or a short tag such as `MAXBUFFER`. */
  code?: string | number;
  errno?: number;
  syscall?: string;
  /** The path the failing call was about: the program, the cwd, a stdio file. */
  path?: string;
  /** For spawn failures: the step in the child or parent that failed (`exec`, `chdir`...). */
  stage?: string;
  /** For bad input: the option at fault (`args[2]`, `stdio.stdout`...). */
  field?: string;
  status?: ExitStatus;
  stdout?: string | Buffer;
  stderr?: string | Buffer;
  all?: string | Buffer;
  command?: string;
  aborted?: boolean;
  cause?: unknown;
}

/**
 * @example
 * try {
 *   await run('git', ['status'], { cwd: '/not/a/repo' });
 * } catch (e) {
 *   if (e instanceof ProcessError && e.kind === 'NonZeroExit') console.error(e.stderr);
 * }
 */
export class ProcessError extends Error {
  readonly kind: ProcessErrorKind;
  readonly code?: string | number;
  readonly errno?: number;
  readonly syscall?: string;
  readonly path?: string;
  readonly stage?: string;
  readonly field?: string;
  readonly status?: ExitStatus;
  readonly stdout?: string | Buffer;
  readonly stderr?: string | Buffer;
  readonly all?: string | Buffer;
  readonly command?: string;
  readonly aborted?: boolean;

  constructor(kind: ProcessErrorKind, message: string, details: ProcessErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ProcessError';
    this.kind = kind;
    for (const [key, value] of Object.entries(details)) {
      if (value !== undefined && key !== 'cause') {
        Object.defineProperty(this, key, { value, enumerable: true, writable: false });
      }
    }
  }
}

// The platform's own table: libuv's getSystemErrorName lacks some (ENOEXEC is one).
const ERRNO_NAMES = new Map<number, string>();
for (const [name, num] of Object.entries(constants.errno)) {
  if (!ERRNO_NAMES.has(num)) ERRNO_NAMES.set(num, name);
}

/** The errno name for a positive errno, e.g. 2 -> 'ENOENT'; unknown numbers get `E<n>`. */
export function errnoName(errno: number): string {
  const known = ERRNO_NAMES.get(errno);
  if (known) return known;
  try {
    const name = getSystemErrorName(-errno);
    return name.startsWith('E') ? name : `E${errno}`;
  } catch {
    return `E${errno}`;
  }
}

/**
 * The InvalidCommand error for a bad argument: names the field, quotes the value bounded.
 *
 * @example
 * if (!Number.isInteger(n)) throw invalid('nice', n, 'must be an integer from -20 to 19');
 * // ProcessError InvalidCommand: "invalid nice: 1.5 must be an integer from -20 to 19"
 */
export function invalid(field: string, value: unknown, rule: string): ProcessError {
  return new ProcessError('InvalidCommand', `invalid ${field}: ${describe(value)} ${rule}`, {
    field,
    code: 'EINVAL',
  });
}

/** Characters a quoted value may take in a message before it is cut short. */
export const DESCRIBE_LIMIT = 200;
// Array items and object keys shown before the rest is counted, and how deep objects open.
const MAX_ITEMS = 5;
const MAX_DEPTH = 3;

/**
 * Any value as an error message quotes it: JSON-like for small values, and bounded to about
 * `limit` characters whatever it holds, so a log line or an HTTP error body never carries a
 * megabyte of the caller's input. Long strings keep their length (`"abc…" (1048576 chars)`),
 * binary data shows type and size (`<Buffer 1048576 bytes>`), long arrays count what is left
 * (`[1,2,3,4,5,… 995 more]`), deep objects and cycles are elided, and it never throws.
 *
 * @example
 * describe('sleep');                        // '"sleep"'
 * describe({ weird: Buffer.alloc(1 << 20) }); // '{"weird":<Buffer 1048576 bytes>}'
 * describe('x'.repeat(5000));               // '"xxxx…" (5000 chars)', 192 characters in all
 */
export function describe(value: unknown, limit: number = DESCRIBE_LIMIT): string {
  const shown = render(value, limit, 0, []);
  // Each part is bounded, but many bounded parts can still add up: cut the whole as well.
  return shown.length > limit + 40
    ? `${cut(shown, limit)}… (${shown.length} chars shown in full)`
    : shown;
}

// Cuts at `n` UTF-16 units without leaving half a surrogate pair behind.
function cut(s: string, n: number): string {
  const head = s.slice(0, n);
  const last = head.charCodeAt(head.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head;
}

function render(value: unknown, budget: number, depth: number, seen: object[]): string {
  switch (typeof value) {
    case 'string': {
      if (value.length + 2 <= budget) return JSON.stringify(value);
      const keep = Math.max(8, budget - 24);
      return `${JSON.stringify(cut(value, keep)).slice(0, -1)}…" (${value.length} chars)`;
    }
    case 'bigint':
      return `${value}n`;
    case 'symbol':
      return value.toString();
    case 'function':
      return `[Function ${value.name || '(anonymous)'}]`;
    case 'object':
      if (value === null) return 'null';
      return renderObject(value, budget, depth, seen);
    default:
      return String(value);
  }
}

function renderObject(value: object, budget: number, depth: number, seen: object[]): string {
  if (Buffer.isBuffer(value)) return `<Buffer ${value.length} bytes>`;
  if (ArrayBuffer.isView(value)) return `<${value.constructor.name} ${value.byteLength} bytes>`;
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    return `<${value.constructor.name} ${value.byteLength} bytes>`;
  }
  if (seen.includes(value)) return '[Circular]';
  const isArray = Array.isArray(value);
  if (depth >= MAX_DEPTH) return isArray ? `[Array(${value.length})]` : '{…}';
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (value instanceof RegExp) return render(String(value), budget, depth, seen);
  if (value instanceof Error) return render(`${value.name}: ${value.message}`, budget, depth, seen);
  const inner = [...seen, value];
  // Each item gets a share of the budget, so one huge member cannot crowd out the others.
  const share = Math.max(24, Math.floor(budget / MAX_ITEMS));
  const parts: string[] = [];
  let total = 0;
  if (isArray) {
    for (let i = 0; i < value.length && i < MAX_ITEMS && total < budget; i++) {
      const part = render(value[i], share, depth + 1, inner);
      parts.push(part);
      total += part.length + 1;
    }
    const more = value.length - parts.length;
    if (more > 0) parts.push(`… ${more} more`);
    return `[${parts.join(',')}]`;
  }
  let keys: string[];
  try {
    keys = Object.keys(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
  const tag =
    value.constructor === Object || value.constructor === undefined ? '' : value.constructor?.name;
  if (keys.length === 0 && tag) return `[object ${tag}]`;
  let consumed = 0;
  for (const key of keys) {
    if (parts.length >= MAX_ITEMS || total >= budget) break;
    consumed++;
    let member: unknown;
    try {
      member = (value as Record<string, unknown>)[key];
    } catch {
      member = '[getter threw]';
    }
    // As JSON would: members it drops are not shown.
    if (member === undefined || typeof member === 'function') continue;
    const part = `${render(key, share, depth + 1, inner)}:${render(member, share, depth + 1, inner)}`;
    parts.push(part);
    total += part.length + 1;
  }
  if (consumed < keys.length) parts.push(`… ${keys.length - consumed} more`);
  return `{${parts.join(',')}}`;
}
