/**
 * The names spawn() accepts, in a file of their own with no runtime imports, so the action
 * schemas (lib/core, which loads no native code) can refuse unknown keys with the same list.
 */
import type { SpawnOptions } from './options.js';

// Every key of SpawnOptions, as a record so the compiler fails here when one is added to the
// interface and not to the list (an unlisted key would be refused as unknown).
const SPAWN_KEY_RECORD: Record<keyof SpawnOptions, true> = {
  program: true,
  args: true,
  argv0: true,
  cwd: true,
  env: true,
  clearEnv: true,
  stdin: true,
  stdout: true,
  stderr: true,
  processGroup: true,
  newSession: true,
  timeout: true,
  killSignal: true,
  killGrace: true,
  signal: true,
  forceClone: true,
  affinity: true,
  scheduler: true,
  nice: true,
  rlimits: true,
  uid: true,
  gid: true,
  inheritScheduling: true,
  containment: true,
  dieWithParent: true,
  sandbox: true,
  limits: true,
  pipeSize: true,
  extraFds: true,
};

/**
 * The option names spawn() accepts; any other key is an InvalidCommand naming it.
 *
 * @example
 * SPAWN_OPTION_KEYS.has('sandbox'); // true
 */
export const SPAWN_OPTION_KEYS: ReadonlySet<string> = new Set(Object.keys(SPAWN_KEY_RECORD));
