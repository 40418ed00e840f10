/**
 * exec() and execFile(): buffered output on top of spawn(), with Node's callback, error
 * shape ('Command failed: <cmd>\n<stderr>', code, killed, signal, cmd), maxBuffer
 * (ERR_CHILD_PROCESS_STDIO_MAXBUFFER, output cut at the limit), encodings including
 * 'buffer', timeout/killSignal, and the util.promisify.custom form resolving
 * { stdout, stderr } (the rejection carries them too).
 */
import { Buffer } from 'node:buffer';
import { getSystemErrorName, promisify } from 'node:util';
import type { ChildProcess } from './child.js';
import { invalidArgType, maxBufferExceeded } from './errors.js';
import {
  checkMaxBuffer,
  checkSignal,
  checkTimeout,
  nullCheck,
  type SpawnOptions,
} from './normalize.js';
import { spawn } from './spawn.js';

export interface ExecFileOptions extends SpawnOptions {
  encoding?: BufferEncoding | 'buffer' | null;
  maxBuffer?: number;
}
export type ExecOptions = ExecFileOptions;

export type ExecCallback = (
  error: ExecError | null,
  stdout: string | Buffer,
  stderr: string | Buffer,
) => void;

/** The callback's error for a failed command: Node's fields. */
export interface ExecError extends Error {
  code?: number | string;
  killed?: boolean;
  signal?: NodeJS.Signals | null;
  cmd?: string;
  stdout?: string | Buffer;
  stderr?: string | Buffer;
}

const MAX_BUFFER = 1024 * 1024;

interface Normalized {
  file: string;
  args: string[];
  options: ExecFileOptions;
  callback: ExecCallback | undefined;
}

/** @internal Node's normalizeExecFileArgs: every optional-argument shape. */
export function normalizeExecFileArgs(
  file: unknown,
  args: unknown,
  options: unknown,
  callback: unknown,
): Normalized {
  let a: unknown = args;
  let o: unknown = options;
  let cb: unknown = callback;
  if (Array.isArray(a)) a = a.slice();
  else if (a != null && typeof a === 'object') {
    cb = o;
    o = a;
    a = null;
  } else if (typeof a === 'function') {
    cb = a;
    o = null;
    a = null;
  }
  if (a == null) a = [];
  if (typeof o === 'function') cb = o;
  else if (o != null && (typeof o !== 'object' || Array.isArray(o))) {
    throw invalidArgType('options', 'of type object', o);
  }
  if (o == null || typeof o === 'function') o = {};
  if (cb != null && typeof cb !== 'function')
    throw invalidArgType('callback', 'of type function', cb);
  const opts = o as ExecFileOptions;
  if (opts.argv0 != null && typeof opts.argv0 !== 'string') {
    throw invalidArgType('options.argv0', 'of type string', opts.argv0);
  }
  return {
    file: file as string,
    args: a as string[],
    options: opts,
    callback: cb as ExecCallback | undefined,
  };
}

function execFileImpl(
  fileArg: unknown,
  argsArg?: unknown,
  optionsArg?: unknown,
  callbackArg?: unknown,
): ChildProcess {
  const {
    file,
    args,
    options: given,
    callback,
  } = normalizeExecFileArgs(fileArg, argsArg, optionsArg, callbackArg);
  const options: ExecFileOptions = {
    encoding: 'utf8',
    timeout: 0,
    maxBuffer: MAX_BUFFER,
    killSignal: 'SIGTERM',
    ...given,
  };
  const timeout = checkTimeout(options.timeout);
  checkMaxBuffer(options.maxBuffer);
  const maxBuffer = options.maxBuffer ?? MAX_BUFFER;
  const killSignal = checkSignal(options.killSignal);

  const spawnOptions: SpawnOptions = {
    windowsHide: !!options.windowsHide,
    windowsVerbatimArguments: !!options.windowsVerbatimArguments,
  };
  // Exactly what Node's execFile hands to spawn (argv0 is checked but not passed, as there).
  for (const key of ['cwd', 'env', 'gid', 'uid', 'shell', 'signal'] as const) {
    if (options[key] != null) (spawnOptions as Record<string, unknown>)[key] = options[key];
  }
  const child = spawn(file, args, spawnOptions);

  const encoding =
    options.encoding && options.encoding !== 'buffer' && Buffer.isEncoding(options.encoding)
      ? options.encoding
      : null;
  const chunks: { stdout: (string | Buffer)[]; stderr: (string | Buffer)[] } = {
    stdout: [],
    stderr: [],
  };
  const lengths = { stdout: 0, stderr: 0 };
  let killed = false;
  let exited = false;
  let timer: NodeJS.Timeout | null = null;
  let ex: ExecError | null = null;
  let cmd = file;

  const joined = (name: 'stdout' | 'stderr'): string | Buffer => {
    const stream = child[name];
    if (encoding || stream?.readableEncoding) return chunks[name].join('');
    return Buffer.concat(chunks[name] as Buffer[]);
  };

  const exithandler = (code?: number | null, signal?: NodeJS.Signals | null) => {
    if (exited) return;
    exited = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (!callback) return;
    const stdout = joined('stdout');
    const stderr = joined('stderr');
    if (!ex && code === 0 && signal === null) {
      callback(null, stdout, stderr);
      return;
    }
    if (args.length > 0) cmd += ` ${args.join(' ')}`;
    if (!ex) {
      ex = new Error(`Command failed: ${cmd}\n${stderr}`) as ExecError;
      // A signalled child has code null, as in Node; a negative code (libuv's -errno, as a
      // failed spawn's 'close' reports it) is named: Node's getSystemErrorName(code).
      (ex as { code: unknown }).code =
        typeof code === 'number' && code < 0 ? getSystemErrorName(code) : code;
      ex.killed = child.killed || killed;
      ex.signal = signal ?? null;
    }
    ex.cmd = cmd;
    callback(ex, stdout, stderr);
  };

  const kill = () => {
    child.stdout?.destroy();
    child.stderr?.destroy();
    killed = true;
    try {
      child.kill(killSignal as NodeJS.Signals);
    } catch (e) {
      ex = e as ExecError;
      exithandler();
    }
  };

  if (timeout > 0) {
    timer = setTimeout(() => {
      kill();
      timer = null;
    }, timeout);
  }

  for (const name of ['stdout', 'stderr'] as const) {
    const stream = child[name];
    if (!stream) continue;
    if (encoding) stream.setEncoding(encoding);
    stream.on('data', (chunk: string | Buffer) => {
      if (maxBuffer === Number.POSITIVE_INFINITY) {
        chunks[name].push(chunk);
        return;
      }
      const enc = stream.readableEncoding;
      const length = enc ? Buffer.byteLength(chunk as string, enc) : chunk.length;
      lengths[name] += length;
      if (lengths[name] > maxBuffer) {
        const keep = maxBuffer - (lengths[name] - length);
        chunks[name].push(chunk.slice(0, keep));
        ex = maxBufferExceeded(name) as ExecError;
        kill();
      } else {
        chunks[name].push(chunk);
      }
    });
  }
  child.addListener('close', exithandler);
  child.addListener('error', (e: Error) => {
    ex = e as ExecError;
    child.stdout?.destroy();
    child.stderr?.destroy();
    exithandler();
  });
  return child;
}

/** Node's customPromiseExecFunction: a promise of { stdout, stderr } with `.child`. */
function promised(
  orig: (...args: unknown[]) => ChildProcess,
): (...args: unknown[]) => Promise<{ stdout: string | Buffer; stderr: string | Buffer }> {
  return (...args: unknown[]) => {
    let resolve!: (v: { stdout: string | Buffer; stderr: string | Buffer }) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<{ stdout: string | Buffer; stderr: string | Buffer }>(
      (res, rej) => {
        resolve = res;
        reject = rej;
      },
    );
    // Outside the executor, as Node does: a bad argument throws synchronously instead of
    // becoming a rejection.
    const child = orig(
      ...args,
      (err: ExecError | null, stdout: string | Buffer, stderr: string | Buffer) => {
        if (err !== null) {
          err.stdout = stdout;
          err.stderr = stderr;
          reject(err);
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
    return Object.assign(promise, { child });
  };
}

/**
 * Runs `file` without a shell and buffers its output.
 * @example
 * import { execFile } from '@core/process/child_process';
 * execFile('node', ['--version'], (err, stdout) => console.log(stdout));
 * // promisified: const { stdout } = await util.promisify(execFile)('node', ['--version']);
 */
export const execFile = execFileImpl as {
  (file: string, callback?: ExecCallback): ChildProcess;
  (file: string, args: readonly string[] | null | undefined, callback?: ExecCallback): ChildProcess;
  (
    file: string,
    options: ExecFileOptions | null | undefined,
    callback?: ExecCallback,
  ): ChildProcess;
  (
    file: string,
    args: readonly string[] | null | undefined,
    options: ExecFileOptions | null | undefined,
    callback?: ExecCallback,
  ): ChildProcess;
  /** The type util.promisify(execFile) takes (the value is promisify.custom). */
  __promisify__(
    file: string,
    args?: readonly string[] | ExecFileOptions | null,
    options?: ExecFileOptions | null,
  ): PromiseWithChild<{ stdout: string | Buffer; stderr: string | Buffer }>;
};

/** What util.promisify(exec/execFile) returns: the promise plus the ChildProcess. */
export type PromiseWithChild<T> = Promise<T> & { child: ChildProcess };

/**
 * Runs `command` in a shell (`/bin/sh -c`, or options.shell) and buffers its output.
 * @example
 * import { exec } from '@core/process/child_process';
 * exec('ls | wc -l', (err, stdout) => console.log(stdout.trim()));
 */
export const exec = execImpl as {
  (command: string, callback?: ExecCallback): ChildProcess;
  (command: string, options: ExecOptions | null | undefined, callback?: ExecCallback): ChildProcess;
  /** The type util.promisify(exec) takes (the value is promisify.custom). */
  __promisify__(
    command: string,
    options?: ExecOptions | null,
  ): PromiseWithChild<{ stdout: string | Buffer; stderr: string | Buffer }>;
};

function execImpl(
  command: string,
  options?: ExecOptions | ExecCallback | null,
  callback?: ExecCallback,
): ChildProcess {
  if (typeof command !== 'string') throw invalidArgType('command', 'of type string', command);
  nullCheck(command, 'command');
  let opts: ExecOptions | null | undefined = options as ExecOptions | null | undefined;
  let cb = callback;
  if (typeof options === 'function') {
    cb = options;
    opts = undefined;
  }
  const merged: ExecOptions = { ...opts };
  merged.shell = typeof merged.shell === 'string' ? merged.shell : true;
  return execFileImpl(command, merged, cb);
}

Object.defineProperty(execFile, promisify.custom, {
  value: promised(execFileImpl as (...args: unknown[]) => ChildProcess),
  enumerable: false,
});
Object.defineProperty(exec, promisify.custom, {
  value: promised(execImpl as (...args: unknown[]) => ChildProcess),
  enumerable: false,
});
