/**
 * The `pipeSize` spawn option: the capacity of every 'pipe' stream of the child, set with
 * F_SETPIPE_SZ before the child exists. A bigger pipe lets a bulk writer hand over more per
 * wake-up of the reader. Above /proc/sys/fs/pipe-max-size the kernel wants CAP_SYS_RESOURCE,
 * so that case is refused here, before any spawn, with the file to raise named.
 */
import { readFileSync } from 'node:fs';
import { invalid, ProcessError } from '../errors.js';

export const PIPE_MAX_SIZE_FILE = '/proc/sys/fs/pipe-max-size';
const CAP_SYS_RESOURCE = 24;

function readPipeMaxSize(): number | null {
  try {
    return Number.parseInt(readFileSync(PIPE_MAX_SIZE_FILE, 'utf8'), 10);
  } catch {
    return null;
  }
}

// The effective capability set of this process, from /proc/self/status (CapEff, hex).
function hasCapSysResource(): boolean {
  try {
    const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return line !== null && ((BigInt(`0x${line[1]}`) >> BigInt(CAP_SYS_RESOURCE)) & 1n) === 1n;
  } catch {
    return false;
  }
}

/**
 * Checks `pipeSize` (bytes, 4096..2^31-1). Throws InvalidCommand for a bad value,
 * Unsupported off Linux, and PermissionDenied naming /proc/sys/fs/pipe-max-size when the
 * size is above it and this process lacks CAP_SYS_RESOURCE.
 */
export function checkPipeSize(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 4096 || value > 0x7fffffff) {
    throw invalid('pipeSize', value, 'must be a whole number of bytes in 4096..2147483647');
  }
  if (process.platform !== 'linux') {
    throw new ProcessError('Unsupported', 'pipeSize: F_SETPIPE_SZ exists on Linux only', {
      field: 'pipeSize',
      code: 'ENOTSUP',
    });
  }
  const max = readPipeMaxSize();
  if (max !== null && value > max && !hasCapSysResource()) {
    throw new ProcessError(
      'PermissionDenied',
      `invalid pipeSize: ${value} bytes is above ${PIPE_MAX_SIZE_FILE} (${max}); raising a pipe beyond it needs CAP_SYS_RESOURCE, or a larger value in that file`,
      { field: 'pipeSize', code: 'EPERM', path: PIPE_MAX_SIZE_FILE },
    );
  }
  return value;
}
