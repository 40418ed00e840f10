/**
 * Spawn failures: the addon's `{errno, stage}` report turned into a ProcessError that says
 * which step failed and why. The error class itself lives in lib/errors.ts, under every layer.
 */

import { describe, errnoName, ProcessError, type ProcessErrorKind } from '../errors.js';
import type { NativeSpawnError } from '../native.js';

// Kept so that imports written against the process layer keep working; new code imports
// lib/errors.ts (the layer test refuses sched and thread importing from here).
export {
  describe,
  errnoName,
  invalid,
  ProcessError,
  type ProcessErrorDetails,
  type ProcessErrorKind,
} from '../errors.js';

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
    message = `spawn ${program}: cannot use cwd ${describe(e.path ?? '')}: ${why} (${code})`;
  } else if (e.stage === 'resolve') {
    message =
      code === 'ENOENT'
        ? `spawn ${program}: program not found in PATH (ENOENT)`
        : `spawn ${program}: found in PATH but not executable: ${why} (${code})`;
  } else if (e.stage === 'exec') {
    message = `spawn ${program}: cannot execute ${describe(e.path ?? program)}: ${why} (${code})`;
  } else if (e.stage === 'pipe-size') {
    // EPERM: above pipe-max-size without CAP_SYS_RESOURCE, or over pipe-user-pages-hard.
    message = `spawn ${program}: cannot set pipeSize: ${why} (${code}); see ${e.path ?? '/proc/sys/fs/pipe-max-size'}`;
  } else if (e.stage === 'stdio' && e.path) {
    message = `spawn ${program}: cannot open stdio file ${describe(e.path)}: ${why} (${code})`;
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
