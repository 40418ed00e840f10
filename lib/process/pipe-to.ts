/**
 * Destinations of `child.stdout.pipeTo(destination)`: a file path, `{ file, append? }`, a
 * descriptor number or `{ fd }`, or a connected net.Socket. The addon moves the bytes with
 * splice(2) on its own thread (native/splice.cc); nothing passes through JS.
 */
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { errnoName, invalid, ProcessError } from '../errors.js';
import { native } from '../native.js';

export type PipeDestination =
  | string
  | number
  | { file: string; append?: boolean }
  | { fd: number }
  | net.Socket;

export interface PipeToResult {
  /** Bytes written to the destination (what was buffered in the stream, then the rest). */
  bytes: number;
  /** True when splice(2) moved the data in the kernel; false for the read/write fallback. */
  spliced: boolean;
}

export interface PipeToOptions {
  /**
   * 'auto' (default): a read()/write() loop with one reused buffer for a regular file (the
   * page cache takes its own copy anyway, and it measured faster here), splice(2) for sockets
   * and pipes. 'splice' or 'copy' force one (benchmarks, tests); splice falls back to the
   * loop where the kernel refuses it (an O_APPEND file, a socketpair source).
   */
  method?: 'auto' | 'splice' | 'copy';
}

const METHODS = { auto: 0, splice: 1, copy: 2 } as const;

/** Validates pipeTo options (before anything is opened). */
export function checkPipeToOptions(options: PipeToOptions): 0 | 1 | 2 {
  if (options === null || typeof options !== 'object') {
    throw invalid('pipeTo options', options, 'must be an object');
  }
  const m = options.method ?? 'auto';
  if (typeof m !== 'string' || !Object.hasOwn(METHODS, m)) {
    throw invalid('pipeTo.method', m, "must be 'auto', 'splice' or 'copy'");
  }
  return METHODS[m];
}

/** The descriptor to write to, and whether we opened it (and so close it). */
interface Target {
  fd: number;
  owned: boolean;
  what: string;
}

function socketFd(s: net.Socket): number | undefined {
  // Node keeps the descriptor on the handle (Unix); there is no public accessor.
  const fd = (s as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function openFile(file: unknown, append: boolean): Target {
  if (typeof file !== 'string' || file.length === 0 || file.includes('\0')) {
    throw invalid('pipeTo.file', file, 'must be a non-empty path without NUL');
  }
  const full = path.resolve(file);
  try {
    return { fd: openSync(full, append ? 'a' : 'w', 0o666), owned: true, what: full };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ProcessError(
      err.code === 'EACCES' || err.code === 'EPERM' ? 'PermissionDenied' : 'NotFound',
      `pipeTo: cannot open ${full}: ${err.code ?? err.message}`,
      { code: err.code, errno: err.errno, syscall: 'open', path: full },
    );
  }
}

/** Validates the destination and opens a file destination (before any byte moves). */
export function resolveTarget(dest: PipeDestination): Target {
  if (typeof dest === 'string') return openFile(dest, false);
  if (typeof dest === 'number' || (dest !== null && typeof dest === 'object' && 'fd' in dest)) {
    const fd = typeof dest === 'number' ? dest : (dest as { fd: unknown }).fd;
    if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw invalid('pipeTo.fd', fd, 'must be an open file descriptor number >= 0');
    }
    return { fd, owned: false, what: `fd ${fd}` };
  }
  if (dest instanceof net.Socket) {
    const fd = socketFd(dest);
    if (fd === undefined) throw invalid('pipeTo', dest, 'must be a connected net.Socket');
    return { fd, owned: false, what: 'socket' };
  }
  if (dest !== null && typeof dest === 'object' && 'file' in dest) {
    return openFile(dest.file, dest.append === true);
  }
  throw invalid(
    'pipeTo',
    dest,
    'is not a destination: use a path, { file, append? }, a descriptor, { fd } or a net.Socket',
  );
}

/**
 * Starts the native transfer of srcFd (owned from here on; -1 when the stream had ended)
 * after `prefix`, and resolves with what moved. `onStart` gets the job id (for cancel).
 */
export function startPipeTo(
  srcFd: number,
  target: Target,
  prefix: Buffer | null,
  method: 0 | 1 | 2,
  onStart: (id: number) => void,
): Promise<PipeToResult> {
  return new Promise((resolve, reject) => {
    const id = native.pipeTo(
      srcFd,
      target.fd,
      prefix,
      (errno, bytes, syscall, spliced) => {
        if (errno === 0) {
          resolve({ bytes, spliced });
          return;
        }
        const code = errnoName(errno);
        reject(
          new ProcessError(
            code === 'ECANCELED' ? 'TerminatedBySignal' : 'SpawnFailed',
            `pipeTo ${target.what}: ${syscall} failed after ${bytes} bytes: ${code}`,
            { code, errno, syscall },
          ),
        );
      },
      method,
    );
    // The job works on its own duplicate: a file we opened is ours to close now.
    if (target.owned) closeSync(target.fd);
    if (id < 0) {
      const code = errnoName(-id);
      reject(
        new ProcessError(
          code === 'ENOTSUP' ? 'Unsupported' : 'SpawnFailed',
          `pipeTo ${target.what}: ${code}`,
          {
            code,
            errno: -id,
            syscall: 'pipeTo',
          },
        ),
      );
      return;
    }
    onStart(id);
  });
}
