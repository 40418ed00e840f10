/**
 * ProcessError: the one error class of the process layer. `kind` is what callers branch on;
 * `code`, `errno` and `syscall` carry the system's own answer when there is one.
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { NativeSpawnError } from '../native.js';
import type { ExitStatus } from './status.js';

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

export function invalid(field: string, value: unknown, rule: string): ProcessError {
  return new ProcessError('InvalidCommand', `invalid ${field}: ${describe(value)} ${rule}`, {
    field,
    code: 'EINVAL',
  });
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function kindForErrno(code: string): ProcessErrorKind {
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 'NotFound';
    case 'EACCES':
    case 'EPERM':
      return 'PermissionDenied';
    case 'ENOSYS':
    case 'ENOTSUP':
    case 'EOPNOTSUPP':
      return 'Unsupported';
    default:
      return 'SpawnFailed';
  }
}

const EXPLAIN: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOEXEC: 'not an executable format (a script needs a #! line)',
  E2BIG: 'argument list and environment too long',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  EAGAIN: 'resource temporarily unavailable (process limit?)',
  ENOMEM: 'out of memory',
  EBADF: 'bad file descriptor',
  ETXTBSY: 'the program file is open for writing',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOTSUP: 'not supported on this platform',
};

/** Turns the addon's `{errno, stage}` report into a ProcessError that says what failed. */
export function spawnError(program: string, e: NativeSpawnError): ProcessError {
  const code = errnoName(e.errno);
  const why = EXPLAIN[code] ?? code;
  let message: string;
  if (e.stage === 'chdir') {
    message = `spawn ${program}: cannot use cwd ${JSON.stringify(e.path ?? '')}: ${why} (${code})`;
  } else if (e.stage === 'resolve') {
    message =
      code === 'ENOENT'
        ? `spawn ${program}: program not found in PATH (ENOENT)`
        : `spawn ${program}: found in PATH but not executable: ${why} (${code})`;
  } else if (e.stage === 'exec') {
    message = `spawn ${program}: cannot execute ${JSON.stringify(e.path ?? program)}: ${why} (${code})`;
  } else if (e.stage === 'stdio' && e.path) {
    message = `spawn ${program}: cannot open stdio file ${JSON.stringify(e.path)}: ${why} (${code})`;
  } else {
    message = `spawn ${program}: ${e.syscall} failed in stage ${e.stage}: ${why} (${code})`;
  }
  return new ProcessError(kindForErrno(code), message, {
    code,
    errno: e.errno,
    syscall: e.syscall,
    stage: e.stage,
    path: e.path,
  });
}
