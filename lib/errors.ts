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
