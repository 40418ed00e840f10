/** spawn(): validate, call the addon once, wrap the child in a ProcessHandle. */
import { isSpawnError, native } from '../native.js';
import { isChildSetupStage, spawnSetupFailure } from '../sched/errors.js';
import { spawnError } from './errors.js';
import { ProcessHandle } from './handle.js';
import { prepareSpawn, type SpawnOptions } from './options.js';

/**
 * Starts a child process. Fails synchronously with a ProcessError carrying the real errno
 * (ENOENT, EACCES, ENOEXEC...) and the failing stage, never with a later 'error' event.
 * @example
 * const child = spawn({ program: 'sleep', args: ['5'], stdout: 'pipe', timeout: 1000 });
 * const status = await child.exited; // { code: null, signal: 'SIGTERM', ... }
 */
export function spawn(options: SpawnOptions): ProcessHandle {
  const prepared = prepareSpawn(options);
  let handle: ProcessHandle | undefined;
  // The exit callback only ever runs from the event loop, after `handle` is assigned below.
  const result = native.spawn(prepared.request, (status) => handle?._onExit(status));
  if (isSpawnError(result)) {
    throw isChildSetupStage(result.stage)
      ? spawnSetupFailure(prepared.command, result, prepared.request)
      : spawnError(prepared.command, result);
  }
  handle = new ProcessHandle(result, prepared, options.signal);
  return handle;
}
