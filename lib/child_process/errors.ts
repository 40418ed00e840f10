/**
 * Node-shaped errors for the child_process facade. A program migrating from node:child_process
 * branches on `err.code` ('ERR_INVALID_ARG_TYPE', 'ENOENT', ...), on the class (TypeError for a
 * wrong argument type, RangeError for out of range) and on the errno fields of a spawn error
 * (`errno` is libuv's negative number, `syscall` is 'spawn <file>'). These build exactly those;
 * the message wording follows Node's so that logs and snapshot tests read the same.
 */
import { constants } from 'node:os';
import { inspect } from 'node:util';

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

/** An error whose `code` is one of Node's `ERR_*` names, printed as Node prints them. */
function nodeError(Base: ErrorClass, code: string, message: string): Error {
  const err = new Base(message);
  Object.defineProperty(err, 'code', {
    value: code,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  // Node's stack starts with `TypeError [ERR_X]: ...` while `name` stays 'TypeError'.
  if (err.stack !== undefined) {
    err.stack = err.stack.replace(`${err.name}:`, `${err.name} [${code}]:`);
  }
  Object.defineProperty(err, 'toString', {
    value: () => `${err.name} [${code}]: ${err.message}`,
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return err;
}

/** How Node describes an offending value after "Received". */
function received(value: unknown): string {
  if (value === null || value === undefined) return ` Received ${String(value)}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor;
    if (ctor?.name) return ` Received an instance of ${ctor.name}`;
    return ` Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

/** `name` is 'options.cwd' (a property) or 'args' (an argument), as Node words it. */
function label(name: string): string {
  return name.includes('.') ? `"${name}" property` : `"${name}" argument`;
}

/**
 * @example
 * throw invalidArgType('options.cwd', 'of type string or an instance of Buffer or URL', 1);
 */
export function invalidArgType(name: string, expected: string, value: unknown): Error {
  return nodeError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The ${label(name)} must be ${expected}.${received(value)}`,
  );
}

/**
 * @example
 * throw invalidArgValue('stdio', 'bad'); // The argument 'stdio' is invalid. Received 'bad'
 */
export function invalidArgValue(name: string, value: unknown, reason = 'is invalid'): Error {
  const kind = name.includes('.') ? 'property' : 'argument';
  let shown = inspect(value);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return nodeError(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    `The ${kind} '${name}' ${reason}. Received ${shown}`,
  );
}

/** @example throw outOfRange('timeout', 'an unsigned integer', -1); */
export function outOfRange(name: string, range: string, value: unknown): Error {
  return nodeError(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${inspect(value)}`,
  );
}

/** @example throw unknownSignal('SIGNOPE'); */
export function unknownSignal(signal: unknown): Error {
  return nodeError(TypeError, 'ERR_UNKNOWN_SIGNAL', `Unknown signal: ${String(signal)}`);
}

/** @example new ERR_CHILD_PROCESS_STDIO_MAXBUFFER for 'stdout' */
export function maxBufferExceeded(stream: 'stdout' | 'stderr' | 'stdout and stderr'): Error {
  return nodeError(
    RangeError,
    'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
    `${stream} maxBuffer length exceeded`,
  );
}

/** A TypeError with one of Node's codes and its exact message. */
export function nodeTypeError(code: string, message: string): Error {
  return nodeError(TypeError, code, message);
}

/** The plain `Error` + code errors (IPC and fork). */
export function plainError(code: string, message: string): Error {
  return nodeError(Error, code, message);
}

// errno names to libuv's negative numbers (UV_ENOENT is -ENOENT on POSIX).
const ERRNO = constants.errno as Record<string, number>;

/**
 * The error Node builds from a libuv failure: message `${syscall} ${code}`, `errno` negative.
 * @example
 * errnoException('ENOENT', 'spawn ls'); // Error: spawn ls ENOENT, errno -2
 */
export function errnoException(code: string, syscall: string, extra?: string): Error {
  const errno = ERRNO[code] === undefined ? -1 : -(ERRNO[code] as number);
  const err = new Error(`${syscall} ${code}${extra ? ` ${extra}` : ''}`) as Error &
    Record<string, unknown>;
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

/** AbortError as node:child_process emits it when `signal` aborts the child. */
export function abortError(cause: unknown): Error {
  const err = new Error('The operation was aborted', { cause }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}
