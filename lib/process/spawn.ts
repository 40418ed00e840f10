/** spawn(): validate, call the addon once, wrap the child in a ProcessHandle. */
import { isSpawnError, native } from '../native.js';
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
  let early: Parameters<ProcessHandle['_onExit']>[0] | undefined;
  const result = native.spawn(prepared.request, (status) => {
    // The watcher never fires inside native.spawn(), but keep the order obvious.
    if (handle) handle._onExit(status);
    else early = status;
  });
  if (isSpawnError(result)) throw spawnError(prepared.command, result);
  handle = new ProcessHandle(result, prepared, options.signal);
  if (early) handle._onExit(early);
  return handle;
}
