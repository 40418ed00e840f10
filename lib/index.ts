/**
 * @core/process: the public surface. Every public name is exported here and only here.
 */

export type { ProcessErrorDetails, ProcessErrorKind } from './process/errors.js';
export { ProcessError } from './process/errors.js';
export type { WaitOptions } from './process/handle.js';
export { ProcessHandle } from './process/handle.js';
export type { SpawnOptions, StdioSpec } from './process/options.js';
export type { RunOptions, RunResult } from './process/run.js';
export { run } from './process/run.js';
export type { SignalName } from './process/signals.js';
export { spawn } from './process/spawn.js';
export type { ExitStatus, ResourceUsage } from './process/status.js';

import { native } from './native.js';

/**
 * Which mechanisms this process uses: exit notification ('pidfd', 'sigchld' fallback, or
 * 'kqueue') and whether the clone path is forced (CORE_PROCESS_FORCE_CLONE).
 * @example
 * backend(); // { exit: 'pidfd', spawn: 'auto' }
 */
export function backend(): { exit: 'pidfd' | 'sigchld' | 'kqueue'; spawn: 'auto' | 'clone' } {
  return native.backend();
}
