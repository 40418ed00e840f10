/**
 * ThreadError: the one error class of the thread layer. `kind` is what callers branch on;
 * `code`, `errno` and `syscall` carry the kernel's own answer when there is one, `field` the
 * argument at fault when the input was bad.
 */
import { ProcessError } from '../errors.js';

export type ThreadErrorKind =
  | 'CreationFailed'
  | 'JoinFailed'
  | 'InvalidAffinity'
  | 'Unsupported'
  | 'PermissionDenied'
  | 'TimedOut'
  | 'InvalidArgument'
  | 'NotFound';

export interface ThreadErrorDetails {
  /** errno name (`EPERM`), or `EINVAL` / `ETIMEDOUT` for input and timeouts. */
  code?: string | number;
  errno?: number;
  syscall?: string;
  /** For bad input: the argument or option at fault (`affinity`, `priority`, `timeout`...). */
  field?: string;
  /** For JoinFailed: what the thread threw. Otherwise the underlying failure, if any. */
  cause?: unknown;
}

/**
 * @example
 * try {
 *   await joinThread(t, { timeout: 1000 });
 * } catch (e) {
 *   if (e instanceof ThreadError && e.kind === 'TimedOut') await t.worker.terminate();
 *   else if (e instanceof ThreadError && e.kind === 'JoinFailed') console.error(e.cause);
 * }
 */
export class ThreadError extends Error {
  readonly kind: ThreadErrorKind;
  readonly code?: string | number;
  readonly errno?: number;
  readonly syscall?: string;
  readonly field?: string;

  constructor(kind: ThreadErrorKind, message: string, details: ThreadErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ThreadError';
    this.kind = kind;
    for (const [key, value] of Object.entries(details)) {
      if (value !== undefined && key !== 'cause') {
        Object.defineProperty(this, key, { value, enumerable: true, writable: false });
      }
    }
  }
}

// lib/sched names CPU-set arguments 'affinity' or 'cpus' (and their elements `cpus[3]`).
const CPU_FIELD = /^(affinity|cpus?)\b/;

function kindOf(e: ProcessError, fallback: ThreadErrorKind): ThreadErrorKind {
  switch (e.kind) {
    case 'InvalidCommand':
      return e.field !== undefined && CPU_FIELD.test(e.field)
        ? 'InvalidAffinity'
        : 'InvalidArgument';
    case 'PermissionDenied':
    case 'Unsupported':
    case 'TimedOut':
    case 'NotFound':
      return e.kind;
    default:
      // Anything else: the caller knows what the operation was, so it says which kind.
      return fallback;
  }
}

/**
 * The thread layer's view of a failure from below: a ProcessError from lib/sched keeps its
 * message, errno, code, syscall and field and gets the ThreadError kind that means the same;
 * anything else becomes `fallback` with the original as `cause`.
 * @example
 * try {
 *   applyAffinity(tid, cpus, true, what);
 * } catch (e) {
 *   throw toThreadError(e, 'CreationFailed'); // EPERM stays PermissionDenied, EINVAL InvalidAffinity
 * }
 */
export function toThreadError(e: unknown, fallback: ThreadErrorKind): ThreadError {
  if (e instanceof ThreadError) return e;
  if (e instanceof ProcessError) {
    return new ThreadError(kindOf(e, fallback), e.message, {
      code: e.code,
      errno: e.errno,
      syscall: e.syscall,
      field: e.field,
      cause: e.cause,
    });
  }
  const message = e instanceof Error ? e.message : String(e);
  return new ThreadError(fallback, message, { cause: e });
}

/** Bad input that is not a CPU set: named, with the rule it broke, before any syscall. */
export function invalidThreadInput(
  op: string,
  field: string,
  value: string,
  rule: string,
): ThreadError {
  return new ThreadError('InvalidArgument', `${op}: invalid ${field}: ${value} ${rule}`, {
    field,
    code: 'EINVAL',
  });
}

/** The same error with the public operation that failed in front of its message. */
export function withOp(op: string, e: ThreadError): ThreadError {
  return new ThreadError(e.kind, `${op}: ${e.message}`, {
    code: e.code,
    errno: e.errno,
    syscall: e.syscall,
    field: e.field,
    cause: (e as Error).cause,
  });
}
