/**
 * fork(): a Node child running `modulePath`, with an IPC channel on fd 3 in Node's own wire
 * format, so `process.send` / `process.on('message')` in the child work unchanged.
 */
import type { ChildProcess } from './child.js';
import { invalidArgType, invalidArgValue, plainError } from './errors.js';
import {
  normalizeSpawn,
  nullCheck,
  type SpawnOptions,
  type StdioOption,
  toPathString,
} from './normalize.js';
import { armTimeoutAndSignal, startChild } from './spawn.js';

export interface ForkOptions extends SpawnOptions {
  execPath?: string;
  execArgv?: readonly string[];
  silent?: boolean;
}

function stdioWithChannel(stdio: string): StdioOption {
  if (!['pipe', 'overlapped', 'ignore', 'inherit'].includes(stdio)) {
    throw invalidArgValue('stdio', stdio);
  }
  return [stdio, stdio, stdio, 'ipc'] as unknown as StdioOption;
}

/**
 * Starts `node modulePath ...args` with an IPC channel.
 * @example
 * import { fork } from '@core/process/child_process';
 * const child = fork('./worker.js');
 * child.on('message', (m) => { console.log(m); child.disconnect(); });
 * child.send({ hello: 'world' });
 */
export function fork(
  modulePath: string | URL,
  args?: readonly string[] | ForkOptions,
  options?: ForkOptions,
): ChildProcess {
  // Node validates it as a path: a string, a Buffer or a file: URL, without NUL bytes.
  const path = toPathString(modulePath, 'modulePath');
  let list: readonly string[];
  let opts: ForkOptions | undefined = options;
  if (args == null) list = [];
  else if (typeof args === 'object' && !Array.isArray(args)) {
    opts = args as ForkOptions;
    list = [];
  } else if (!Array.isArray(args)) {
    throw invalidArgType('args', 'an instance of Array', args);
  } else list = args;
  if (opts != null && (typeof opts !== 'object' || Array.isArray(opts))) {
    throw invalidArgType('options', 'of type object', opts);
  }
  const o: ForkOptions = { ...opts, shell: false };
  const execPath = o.execPath || process.execPath;
  if (typeof execPath === 'string') nullCheck(execPath, 'options.execPath');
  const execArgv = o.execArgv || process.execArgv;
  // Node's validateArgumentsNullCheck: only string elements are checked here.
  execArgv.forEach((a, i) => {
    if (typeof a === 'string') nullCheck(a, `options.execArgv[${i}]`);
  });
  const argv = [...execArgv, path, ...list];
  if (typeof o.stdio === 'string') o.stdio = stdioWithChannel(o.stdio);
  else if (!Array.isArray(o.stdio)) o.stdio = stdioWithChannel(o.silent ? 'pipe' : 'inherit');
  else if (!o.stdio.includes('ipc')) {
    throw plainError(
      'ERR_CHILD_PROCESS_IPC_REQUIRED',
      "Forked processes must have an IPC channel, missing value 'ipc' in options.stdio",
    );
  }
  const n = normalizeSpawn(execPath, argv, o);
  const child = startChild(n);
  armTimeoutAndSignal(child, n);
  return child;
}
