/**
 * Argument checks and normalisation for the facade, in Node's order and with Node's error
 * codes, so that a bad call fails the same way before anything is spawned. The result is a
 * plain description of the child that spawn.ts turns into one call of lib/process spawn().
 */
import { Buffer } from 'node:buffer';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import type { SpawnOptions as CoreOptions, StdioSpec } from '../process/options.js';
import { STDIO_FD } from '../process/pipe-reader.js';
import {
  invalidArgType,
  invalidArgValue,
  nodeTypeError,
  outOfRange,
  plainError,
  unknownSignal,
} from './errors.js';
import { NODE_MAJOR } from './line.js';

/** One child descriptor: what fd `i` of the child is connected to. */
export type StdioEntry =
  | { type: 'pipe' }
  | { type: 'ignore' }
  | { type: 'ipc' }
  | { type: 'fd'; fd: number; stream?: object };

export type Serialization = 'json' | 'advanced';

export interface NormalizedSpawn {
  /** The program (after `shell`): what Node calls `spawnfile`. */
  file: string;
  /** argv including argv[0]: what Node calls `spawnargs`. */
  args: string[];
  cwd: string | undefined;
  /** options.env as Node reads it (empty without options.env: see explicitEnv). */
  env: Record<string, string>;
  /** True when options.env was given (a copy of process.env otherwise). */
  explicitEnv: boolean;
  stdio: StdioEntry[];
  detached: boolean;
  uid: number | undefined;
  gid: number | undefined;
  serialization: Serialization;
  timeout: number;
  killSignal: string | number;
  signal: AbortSignal | undefined;
}

/** The options object accepted by spawn() and friends (Node's documented keys). */
export interface SpawnOptions {
  cwd?: string | URL | Buffer;
  env?: NodeJS.ProcessEnv | Record<string, string | number | boolean | undefined>;
  argv0?: string;
  stdio?: StdioOption;
  detached?: boolean;
  uid?: number;
  gid?: number;
  shell?: boolean | string;
  windowsVerbatimArguments?: boolean;
  windowsHide?: boolean;
  signal?: AbortSignal;
  timeout?: number;
  killSignal?: string | number;
  serialization?: Serialization;
}

/** What one element of `stdio` may be. */
export type StdioValue =
  | 'pipe'
  | 'overlapped'
  | 'ignore'
  | 'inherit'
  | 'ipc'
  | number
  | null
  | undefined
  | { fd: number }
  | NodeJS.ReadableStream
  | NodeJS.WritableStream;
export type StdioOption = 'pipe' | 'overlapped' | 'ignore' | 'inherit' | readonly StdioValue[];

/**
 * Node's validateArgumentNullCheck: a string argument or property with a NUL byte is an
 * ERR_INVALID_ARG_VALUE TypeError (invalidArgValue words a dotted name as a property).
 * @example nullCheck('ls', 'file') // passes
 */
export function nullCheck(value: string, name: string): void {
  if (value.includes('\0'))
    throw invalidArgValue(name, value, 'must be a string without null bytes');
}

/**
 * Node's nullCheck for paths (getValidatedPath: cwd, fork's modulePath), worded for the
 * three forms a path may take; `shown` is the value as given (a Buffer shows as one).
 */
function pathNullCheck(path: string, name: string, shown: unknown): void {
  if (path.includes('\0')) {
    throw invalidArgValue(name, shown, 'must be a string, Uint8Array, or URL without null bytes');
  }
}

function checkBoolean(options: Record<string, unknown>, key: string): boolean | undefined {
  const v = options[key];
  if (v != null && typeof v !== 'boolean') {
    throw invalidArgType(`options.${key}`, 'of type boolean', v);
  }
  return v as boolean | undefined;
}

/**
 * Node 26's validateInteger and validateInt32: the type first, then an integer, then the range,
 * each with Node's code and words.
 * @example checkInteger(5, 'timeout', 0, Number.MAX_SAFE_INTEGER) // 5
 */
function checkInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

function checkInt32(options: Record<string, unknown>, key: string): number | undefined {
  const v = options[key];
  if (v == null) return undefined;
  // Node 26 checks uid and gid with validateInt32.
  if (NODE_MAJOR >= 26) return checkInteger(v, `options.${key}`, -(2 ** 31), 2 ** 31 - 1);
  // Up to Node 24, isInt32 computes `v | 0` first: a Symbol or BigInt fails there with V8's own
  // TypeError (no code), and so does it here.
  void ((v as number) | 0);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
    throw invalidArgType(`options.${key}`, 'int32', v);
  }
  return v;
}

/**
 * The `timeout` option: an unsigned int32 (Node's validateTimeout).
 * @example checkTimeout(undefined) // 0
 */
export function checkTimeout(value: unknown, name = 'timeout'): number {
  if (value == null) return 0;
  if (NODE_MAJOR >= 26) {
    // Node 26's validateTimeout is validateInteger(timeout, 'timeout', 0).
    return checkInteger(value, name, 0, Number.MAX_SAFE_INTEGER);
  }
  // No upper bound, as in Node: above 2^31-1 its setTimeout (and ours) fires after 1 ms.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw outOfRange(name, 'an unsigned integer', value);
  }
  return value;
}

/**
 * The `maxBuffer` option of exec/execFile and the sync functions (Node's validateMaxBuffer:
 * up to Node 24 any non-negative number, else a RangeError; Node 26 validateNumber(v, 0)).
 * @example checkMaxBuffer(1024) // passes
 */
export function checkMaxBuffer(value: unknown): void {
  if (value == null) return;
  const name = 'options.maxBuffer';
  if (NODE_MAJOR >= 26) {
    if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
    if (!(value >= 0)) throw outOfRange(name, '>= 0', value);
    return;
  }
  if (!(typeof value === 'number' && value >= 0)) {
    throw outOfRange(name, 'a positive number', value);
  }
}

/**
 * A signal name or number of this platform; Node's sanitizeKillSignal.
 * @example checkSignal('SIGKILL') // 'SIGKILL'
 */
export function checkSignal(value: unknown): string | number {
  if (value == null) return 'SIGTERM';
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw invalidArgType('options.killSignal', 'one of type string or number', value);
  }
  // Node's convertToValidSignal: names in any case, numbers of this platform; 0 is no signal.
  if (value === 0) throw unknownSignal(value);
  signalToNumber(value);
  return typeof value === 'string' ? value.toUpperCase() : value;
}

/** Signal name (any case) or number -> number; throws ERR_UNKNOWN_SIGNAL. */
export function signalToNumber(sig: string | number): number {
  const signals = constants.signals as Record<string, number>;
  if (typeof sig === 'number') {
    if (sig === 0 || Object.values(signals).includes(sig)) return sig;
    throw unknownSignal(sig);
  }
  const n = typeof sig === 'string' ? signals[sig.toUpperCase()] : undefined;
  if (n === undefined) throw unknownSignal(sig);
  return n;
}

/**
 * The fd of a stream Node accepts in `stdio`: one with a numeric `.fd` (an fs stream once
 * open, `{ fd }`), a handle-backed stream (net.Socket, another child's stdin or extra pipe)
 * or one of our own child pipes (PipeReader: its native reader is stopped and its fd handed
 * over, so the two children talk through the kernel).
 */
function streamFd(value: object): number | undefined {
  const fd = (value as { fd?: unknown }).fd;
  if (typeof fd === 'number' && fd >= 0) return fd;
  const handle = (value as { _handle?: { fd?: unknown } })._handle;
  if (handle && typeof handle.fd === 'number' && handle.fd >= 0) return handle.fd;
  const take = (value as { [STDIO_FD]?: () => number })[STDIO_FD];
  if (typeof take === 'function') {
    const own = take.call(value);
    if (own >= 0) return own;
  }
  return undefined;
}

/**
 * Node's getValidStdio: a string or an array (padded to 3), each element checked.
 * @example normalizeStdio('ignore', false) // three ignores
 */
export function normalizeStdio(option: unknown, sync: boolean): StdioEntry[] {
  let list: unknown[];
  if (!option) {
    // Node: `options.stdio || 'pipe'`, so every falsy value means 'pipe'.
    list = ['pipe', 'pipe', 'pipe'];
  } else if (typeof option === 'string') {
    if (!['pipe', 'overlapped', 'ignore', 'inherit'].includes(option)) {
      throw invalidArgValue('stdio', option);
    }
    list = [option, option, option];
  } else if (Array.isArray(option)) {
    list = [...option];
    while (list.length < 3) list.push(undefined);
  } else {
    throw invalidArgValue('stdio', option);
  }
  let ipc = false;
  return list.map((v, i): StdioEntry => {
    const value = v ?? (i < 3 ? 'pipe' : 'ignore');
    if (value === 'ignore') return { type: 'ignore' };
    if (value === 'pipe' || value === 'overlapped') return { type: 'pipe' };
    if (value === 'ipc') {
      if (sync) throw plainError('ERR_IPC_SYNC_FORK', 'IPC cannot be used with synchronous forks');
      if (ipc) throw plainError('ERR_IPC_ONE_PIPE', 'Child process can have only one IPC pipe');
      ipc = true;
      return { type: 'ipc' };
    }
    if (value === 'inherit') return { type: 'fd', fd: i };
    if (typeof value === 'number') return { type: 'fd', fd: value };
    if (typeof value === 'object') {
      const fd = streamFd(value);
      if (fd !== undefined) return { type: 'fd', fd, stream: value };
    }
    if (!sync && (typeof value === 'string' || ArrayBuffer.isView(value))) {
      throw nodeTypeError(
        'ERR_INVALID_SYNC_FORK_INPUT',
        `Asynchronous forks do not support Buffer, TypedArray, DataView or string input: ${inspect(value)}`,
      );
    }
    throw invalidArgValue('stdio', value);
  });
}

/**
 * Node's getValidatedPath: a string, a Buffer/Uint8Array or a file: URL, without NUL bytes.
 * @example toPathString(new URL('file:///tmp'), 'options.cwd') // '/tmp'
 */
export function toPathString(value: unknown, name: string): string {
  let path: string;
  if (typeof value === 'string') path = value;
  else if (value instanceof URL) {
    if (value.protocol !== 'file:') {
      const err = new TypeError('The URL must be of scheme file') as TypeError & { code: string };
      err.code = 'ERR_INVALID_URL_SCHEME';
      throw err;
    }
    path = fileURLToPath(value);
  } else if (value instanceof Uint8Array) path = Buffer.from(value).toString();
  else throw invalidArgType(name, 'of type string or an instance of Buffer or URL', value);
  pathNullCheck(path, name, value instanceof URL ? path : value);
  return path;
}

/**
 * `(file, args?, options?)` in every form Node accepts, checked in Node's order.
 * @example normalizeSpawn('ls', ['-l'], { cwd: '/tmp' }).args // ['ls', '-l']
 */
export function normalizeSpawn(
  fileArg: unknown,
  argsArg?: unknown,
  optionsArg?: unknown,
  sync = false,
): NormalizedSpawn {
  if (typeof fileArg !== 'string') throw invalidArgType('file', 'of type string', fileArg);
  if (fileArg.length === 0) throw invalidArgValue('file', fileArg, 'cannot be empty');
  nullCheck(fileArg, 'file');
  let file = fileArg;
  let args: string[];
  let raw: unknown = optionsArg;
  if (Array.isArray(argsArg)) {
    args = argsArg.slice();
  } else if (argsArg == null) {
    args = [];
  } else if (typeof argsArg !== 'object') {
    throw invalidArgType('args', 'of type object', argsArg);
  } else {
    raw = argsArg;
    args = [];
  }
  if (raw === undefined) raw = {};
  else if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidArgType('options', 'of type object', raw);
  }
  const options = raw as Record<string, unknown>;
  // Node stringifies each argument and refuses NUL bytes in any of them.
  args = args.map((a, i) => {
    const s = String(a);
    nullCheck(s, `args[${i}]`);
    return s;
  });

  let cwd: string | undefined;
  if (options.cwd != null) cwd = toPathString(options.cwd, 'options.cwd');
  // Node hands an empty cwd to its binding, which then leaves the directory unchanged.
  if (cwd === '') cwd = undefined;
  const detached = checkBoolean(options, 'detached') === true;
  const uid = checkInt32(options, 'uid');
  const gid = checkInt32(options, 'gid');
  const shell = options.shell;
  if (shell != null && typeof shell !== 'boolean' && typeof shell !== 'string') {
    throw invalidArgType('options.shell', 'one of type boolean or string', shell);
  }
  if (options.argv0 != null) {
    if (typeof options.argv0 !== 'string') {
      throw invalidArgType('options.argv0', 'of type string', options.argv0);
    }
    nullCheck(options.argv0, 'options.argv0');
  }
  checkBoolean(options, 'windowsHide');
  checkBoolean(options, 'windowsVerbatimArguments');
  const serialization = options.serialization;
  if (serialization !== undefined && serialization !== 'json' && serialization !== 'advanced') {
    throw invalidArgValue(
      'options.serialization',
      serialization,
      "must be one of: undefined, 'json', 'advanced'",
    );
  }

  if (shell) {
    if (typeof shell === 'string') nullCheck(shell, 'options.shell');
    // Node joins with single spaces and quotes nothing: the caller's string is shell syntax.
    const command = [file, ...args].join(' ');
    file = typeof shell === 'string' ? shell : '/bin/sh';
    args = ['-c', command];
  }
  args.unshift(typeof options.argv0 === 'string' ? options.argv0 : file);

  // Node reads every enumerable key, inherited ones included, and skips undefined values.
  // Without options.env the child gets environ as it is (process.env writes through to it),
  // so nothing is copied: reading process.env key by key costs more than the spawn itself.
  const source = (options.env ?? {}) as Record<string, unknown>;
  const env: Record<string, string> = {};
  for (const key in source) {
    const value = source[key];
    if (value === undefined) continue;
    nullCheck(key, `options.env['${key}']`);
    const s = String(value);
    nullCheck(s, `options.env['${key}']`);
    env[key] = s;
  }

  const stdio = normalizeStdio(options.stdio, sync);
  const timeout = checkTimeout(options.timeout);
  const signal = options.signal;
  if (
    signal !== undefined &&
    (signal === null || typeof signal !== 'object' || !('aborted' in signal))
  ) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  const killSignal = checkSignal(options.killSignal);
  return {
    file,
    args,
    cwd,
    env,
    explicitEnv: options.env != null,
    stdio,
    detached,
    uid,
    gid,
    serialization: (serialization as Serialization | undefined) ?? 'json',
    timeout,
    killSignal,
    signal: signal as AbortSignal | undefined,
  };
}

const NAMES = new Map<number, string>();
for (const [name, num] of Object.entries(constants.signals)) {
  if (!NAMES.has(num)) NAMES.set(num, name);
}

/** A valid signal (name or number) as its name: 'SIGTERM'. */
export function signalNameOf(sig: string | number): string {
  if (typeof sig === 'string') return sig;
  return NAMES.get(sig) ?? `SIG${sig}`;
}

/**
 * The core spawn() options spawn() and spawnSync() both give for `n`: program and argv, the
 * three standard streams, Node's env rule, cwd, session and ids. Extra fds and the IPC
 * channel are the caller's.
 * @example
 * const core = coreOptionsFor(normalizeSpawn('ls', ['-l'], {}, false), ['null', 'pipe', 'inherit']);
 */
export function coreOptionsFor(n: NormalizedSpawn, streams: readonly StdioSpec[]): CoreOptions {
  const core: CoreOptions = {
    program: n.file,
    args: n.args.slice(1),
    argv0: n.args[0] ?? n.file,
    stdin: streams[0] as StdioSpec,
    stdout: streams[1] as StdioSpec,
    stderr: streams[2] as StdioSpec,
  };
  // Node's child gets exactly its env: ours as it is now (environ tracks process.env) or the
  // one given. Without an explicit env the addon passes environ through untouched.
  if (n.explicitEnv) {
    core.clearEnv = true;
    core.env = { ...n.env };
  }
  if (n.cwd !== undefined) core.cwd = n.cwd;
  if (n.detached) core.newSession = true;
  if (n.uid !== undefined) core.uid = n.uid >>> 0;
  if (n.gid !== undefined) core.gid = n.gid >>> 0;
  return core;
}
