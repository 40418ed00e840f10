/** Which kernel mechanisms this process uses, for diagnostics and tests. */
import { native } from '../native.js';

export interface Backend {
  /** How exits are observed: a pidfd on the loop, or the SIGCHLD fallback (also macOS). */
  exit: 'pidfd' | 'sigchld';
  /** 'clone' when CORE_PROCESS_FORCE_CLONE forces the clone path for every spawn. */
  spawn: 'auto' | 'clone';
}

/**
 * @example
 * backend(); // { exit: 'pidfd', spawn: 'auto' }
 */
export function backend(): Backend {
  return native.backend();
}
