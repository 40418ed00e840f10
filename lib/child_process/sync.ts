/**
 * spawnSync(), execSync(), execFileSync(): one spawn on our core, then the addon's
 * collectSync() feeds stdin and drains every output pipe in a blocking poll() loop (no JS event
 * loop turn), applying the timeout and maxBuffer; the status comes from a blocking waitid on
 * the pidfd. Results and thrown errors have Node's shape: { pid, output, stdout, stderr,
 * status, signal, error? }, error being 'spawnSync <file> ETIMEDOUT|ENOBUFS|ENOENT...'.
 */
import { Buffer } from 'node:buffer';
import { closeSync } from 'node:fs';
import { errnoName } from '../errors.js';
import { native } from '../native.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions as CoreOptions, StdioSpec } from '../process/options.js';
import type { SignalName } from '../process/signals.js';
import { spawn as coreSpawn } from '../process/spawn.js';
import { errnoException, invalidArgType } from './errors.js';
import { normalizeExecFileArgs } from './exec.js';
import { NO_OUTPUT } from './line.js';
import {
  checkMaxBuffer,
  checkSignal,
  coreOptionsFor,
  type NormalizedSpawn,
  normalizeSpawn,
  nullCheck,
  type SpawnOptions,
  signalNameOf,
} from './normalize.js';

export interface SpawnSyncOptions extends SpawnOptions {
  input?: string | NodeJS.ArrayBufferView;
  maxBuffer?: number;
  encoding?: BufferEncoding | 'buffer' | null;
}
export type ExecSyncOptions = SpawnSyncOptions;
export type ExecFileSyncOptions = SpawnSyncOptions;

export interface SpawnSyncReturns<T = Buffer | string> {
  error?: Error;
  status: number | null;
  signal: NodeJS.Signals | null;
  output: (T | null)[] | null;
  pid: number;
  /** `undefined` (Node 22+) or `null` (Node 20) when the spawn failed: see line.ts. */
  stdout: T | null | undefined;
  stderr: T | null | undefined;
}

const MAX_BUFFER = 1024 * 1024;

function inputBuffer(input: unknown, encoding: unknown): Buffer | undefined {
  // Node: `if (options.input)`, so every falsy input means none.
  if (!input) return undefined;
  if (typeof input === 'string') {
    return Buffer.from(
      input,
      Buffer.isEncoding(encoding as string) ? (encoding as BufferEncoding) : 'utf8',
    );
  }
  if (ArrayBuffer.isView(input))
    return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw invalidArgType(
    'options.stdio[0]',
    'of type string or an instance of Buffer, TypedArray, or DataView',
    input,
  );
}

interface SyncPlan {
  core: CoreOptions;
  /** Our ends of the socketpairs for 'pipe' entries from fd 3 up, by child fd (-1: none). */
  extraOurs: number[];
  /** Their ends: closed here once the child has them (or the spawn failed). */
  theirs: number[];
}

function syncPlan(n: NormalizedSpawn): SyncPlan {
  const streams: StdioSpec[] = n.stdio.slice(0, 3).map((e, i) => {
    if (e.type === 'pipe') return 'socketpair';
    if (e.type === 'ignore') return 'null';
    if (e.type === 'fd') {
      // As in spawn.ts: the child's stdio reads and writes blocking, as libuv's child sets it.
      if (e.stream !== undefined) native.setBlocking(e.fd);
      return e.fd === i ? 'inherit' : { fd: e.fd };
    }
    return 'null';
  });
  const extraOurs: number[] = [];
  const theirs: number[] = [];
  // Node's SyncProcessRunner makes a pipe for every 'pipe' entry, fd 3 and up too, and
  // collects what the child writes there into output[i].
  const extra = n.stdio.slice(3).map((e): number | null => {
    if (e.type === 'fd') {
      extraOurs.push(-1);
      return e.fd;
    }
    if (e.type !== 'pipe') {
      extraOurs.push(-1);
      return null;
    }
    const pair = native.socketpair();
    if (typeof pair === 'number') {
      for (const fd of [...extraOurs, ...theirs]) if (fd >= 0) closeSync(fd);
      throw errnoException(errnoName(-pair), 'socketpair');
    }
    extraOurs.push(pair[0]);
    theirs.push(pair[1]);
    return pair[1];
  });
  const core = coreOptionsFor(n, streams);
  if (extra.some((fd) => fd !== null)) core.extraFds = extra;
  return { core, extraOurs, theirs };
}

/**
 * Runs a child to completion, blocking this thread; never throws for a failed spawn or exit
 * (see `result.error`), only for bad arguments.
 * @example
 * import { spawnSync } from '@core/process/child_process';
 * const r = spawnSync('sh', ['-c', 'echo hi; exit 3'], { encoding: 'utf8' });
 * r.status; // 3
 * r.stdout; // 'hi\n'
 */
export function spawnSync(
  file: string,
  args?: readonly string[] | SpawnSyncOptions,
  options?: SpawnSyncOptions,
): SpawnSyncReturns {
  const n = normalizeSpawn(file, args, options, true);
  const raw = (Array.isArray(args) ? options : (args ?? options)) as SpawnSyncOptions | undefined;
  checkMaxBuffer(raw?.maxBuffer);
  const maxBufferOpt = raw?.maxBuffer ?? MAX_BUFFER;
  checkSignal(raw?.killSignal);
  const encoding = raw?.encoding;
  const input = inputBuffer(raw?.input, encoding);

  const fail = (code: string, pid: number, output: (Buffer | null)[] | null): SpawnSyncReturns => {
    const error = errnoException(code, `spawnSync ${n.file}`) as Error & Record<string, unknown>;
    error.path = n.file;
    error.spawnargs = n.args.slice(1);
    return finish({ error, status: null, signal: null, output, pid, stdout: null, stderr: null });
  };
  const finish = (r: SpawnSyncReturns): SpawnSyncReturns => {
    if (r.output && encoding && encoding !== 'buffer') {
      r.output = r.output.map((b) => (b === null ? null : (b as Buffer).toString(encoding)));
    }
    r.stdout = r.output ? (r.output[1] ?? null) : NO_OUTPUT;
    r.stderr = r.output ? (r.output[2] ?? null) : NO_OUTPUT;
    return r;
  };

  const p = syncPlan(n);
  let handle: ProcessHandle;
  try {
    handle = coreSpawn(p.core);
  } catch (e) {
    for (const fd of [...p.extraOurs, ...p.theirs]) if (fd >= 0) closeSync(fd);
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('E')) throw e;
    return fail(code, 0, null);
  }
  const killSignal = signalNameOf(n.killSignal) as SignalName;
  let limit: 'ETIMEDOUT' | 'ENOBUFS' | null = null;
  const onLimit = (reason: 'timeout' | 'maxBuffer') => {
    if (limit === null) limit = reason === 'timeout' ? 'ETIMEDOUT' : 'ENOBUFS';
    handle.kill(killSignal);
  };
  for (const fd of p.theirs) closeSync(fd);
  const fds = [handle._takeFd(0), handle._takeFd(1), handle._takeFd(2), ...p.extraOurs];
  const started = Date.now();
  let collected: { output: (Buffer | null)[]; errno: number };
  try {
    collected = native.collectSync(
      fds,
      input,
      n.timeout > 0 ? n.timeout : -1,
      maxBufferOpt === Number.POSITIVE_INFINITY ? -1 : maxBufferOpt,
      onLimit,
    );
  } catch (e) {
    // collectSync owned the fds and closed them on its way out; only the child is left.
    handle.kill('SIGKILL');
    handle.waitSync();
    throw e;
  }
  // No pipes (or they closed early): the deadline still holds for the process itself.
  if (n.timeout > 0 && limit === null) {
    const left = Math.max(0, n.timeout - (Date.now() - started));
    try {
      handle.waitSync({ timeout: left });
    } catch {
      onLimit('timeout');
    }
  }
  const status = handle.waitSync();
  const output: (Buffer | null)[] = n.stdio.map((_e, i) => collected.output[i] ?? null);
  if (limit !== null) {
    const r = fail(limit, handle.pid, output);
    r.status = status.code;
    r.signal = status.signal as NodeJS.Signals | null;
    return r;
  }
  return finish({
    status: status.code,
    signal: status.signal as NodeJS.Signals | null,
    output,
    pid: handle.pid,
    stdout: null,
    stderr: null,
  });
}

function checkExecSyncError(ret: SpawnSyncReturns, cmd: string): Error | undefined {
  if (ret.error) return Object.assign(ret.error, ret);
  if (ret.status !== 0) {
    let msg = `Command failed: ${cmd}`;
    if (ret.stderr && ret.stderr.length > 0) msg += `\n${ret.stderr.toString()}`;
    return Object.assign(new Error(msg), ret);
  }
  return undefined;
}

/**
 * Runs `file` without a shell, blocking; returns stdout, throws on failure or non-zero exit.
 * @example
 * import { execFileSync } from '@core/process/child_process';
 * const version = execFileSync('node', ['--version'], { encoding: 'utf8' });
 */
export function execFileSync(
  file: string,
  args?: readonly string[] | ExecFileSyncOptions,
  options?: ExecFileSyncOptions,
): Buffer | string {
  const { args: a, options: o } = normalizeExecFileArgs(file, args, options, undefined);
  const opts = o as ExecFileSyncOptions;
  const inheritStderr = !opts.stdio;
  const ret = spawnSync(file, a, opts);
  if (inheritStderr && ret.stderr) process.stderr.write(ret.stderr);
  const err = checkExecSyncError(ret, [opts.argv0 || file, ...a].join(' '));
  if (err) throw err;
  return ret.stdout as Buffer | string;
}

/**
 * Runs `command` in a shell, blocking; returns stdout, throws on failure or non-zero exit.
 * @example
 * import { execSync } from '@core/process/child_process';
 * const n = execSync('ls | wc -l', { encoding: 'utf8' }).trim();
 */
export function execSync(command: string, options?: ExecSyncOptions): Buffer | string {
  if (typeof command !== 'string') throw invalidArgType('command', 'of type string', command);
  nullCheck(command, 'command');
  const opts: ExecSyncOptions = { ...options };
  opts.shell = typeof opts.shell === 'string' ? opts.shell : true;
  const inheritStderr = !opts.stdio;
  const ret = spawnSync(command, opts);
  if (inheritStderr && ret.stderr) process.stderr.write(ret.stderr);
  const err = checkExecSyncError(ret, command);
  if (err) throw err;
  return ret.stdout as Buffer | string;
}
