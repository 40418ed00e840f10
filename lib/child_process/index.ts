/**
 * @core/process/child_process: node:child_process's API on the @core/process spawn core.
 * Change the import, keep the code:
 *   import { spawn, exec, execFile, fork, spawnSync, execSync, execFileSync }
 *     from '@core/process/child_process';
 */
export type { ChannelHooks, StdioStream } from './child.js';
export { ChildProcess } from './child.js';
export type {
  ExecCallback,
  ExecError,
  ExecFileOptions,
  ExecOptions,
  PromiseWithChild,
} from './exec.js';
export { exec, execFile } from './exec.js';
export type { ForkOptions } from './fork.js';
export { fork } from './fork.js';
export type { Serialization, SpawnOptions, StdioOption, StdioValue } from './normalize.js';
export { spawn } from './spawn.js';
export type {
  ExecFileSyncOptions,
  ExecSyncOptions,
  SpawnSyncOptions,
  SpawnSyncReturns,
} from './sync.js';
export { execFileSync, execSync, spawnSync } from './sync.js';

import { ChildProcess as ChildProcessClass } from './child.js';
import { execFile as execFileFn, exec as execFn } from './exec.js';
import { fork as forkFn } from './fork.js';
import { spawn as spawnFn } from './spawn.js';
import {
  execFileSync as execFileSyncFn,
  execSync as execSyncFn,
  spawnSync as spawnSyncFn,
} from './sync.js';

/** `import cp from '@core/process/child_process'`, as `import cp from 'node:child_process'`. */
const childProcess = {
  ChildProcess: ChildProcessClass,
  exec: execFn,
  execFile: execFileFn,
  execFileSync: execFileSyncFn,
  execSync: execSyncFn,
  fork: forkFn,
  spawn: spawnFn,
  spawnSync: spawnSyncFn,
};
export default childProcess;
