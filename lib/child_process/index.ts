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
