/**
 * run(): spawn, feed input, collect output, and turn the outcome into a result or a
 * ProcessError (NonZeroExit, TerminatedBySignal, TimedOut), like execa but on our spawn.
 */
import type { Readable } from 'node:stream';
import { invalid, ProcessError } from '../errors.js';
import type { ProcessHandle } from './handle.js';
import { checkKnownKeys } from './keys.js';
import { SPAWN_OPTION_KEYS, type SpawnOptions, type StdioSpec } from './options.js';
import { spawn } from './spawn.js';
import { describeStatus, type ExitStatus } from './status.js';

export interface RunOptions extends Omit<SpawnOptions, 'program' | 'args'> {
  /** Written to the child's stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Uint8Array;
  /** Bytes per stream before the child is killed and the run fails; default 100 MiB. */
  maxBuffer?: number;
  /** 'utf8' (default) and other text encodings give strings; 'buffer' gives Buffers. */
  encoding?: BufferEncoding | 'buffer';
  /** Also collect stdout and stderr interleaved in arrival order as `all`. */
  all?: boolean;
  /** false: resolve with the status instead of rejecting on failure exits. */
  reject?: boolean;
}

export interface RunResult<T extends string | Buffer = string> {
  command: string;
  args: readonly string[];
  pid: number;
  stdout: T;
  stderr: T;
  all?: T;
  status: ExitStatus;
  timedOut: boolean;
  aborted: boolean;
}

const DEFAULT_MAX_BUFFER = 100 * 1024 * 1024;

const RUN_ONLY_KEYS: Record<Exclude<keyof RunOptions, keyof SpawnOptions>, true> = {
  input: true,
  maxBuffer: true,
  encoding: true,
  all: true,
  reject: true,
};
// program and args are run()'s own parameters, not options.
const RUN_OPTION_KEYS: ReadonlySet<string> = new Set([
  ...[...SPAWN_OPTION_KEYS].filter((k) => k !== 'program' && k !== 'args'),
  ...Object.keys(RUN_ONLY_KEYS),
]);

interface Collector {
  chunks: Buffer[];
  bytes: number;
}

function collect(
  stream: Readable | null,
  name: 'stdout' | 'stderr',
  into: Collector,
  all: Collector | null,
  maxBuffer: number,
  onOverflow: (name: string) => void,
): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      if (into.bytes + chunk.length > maxBuffer) {
        const room = maxBuffer - into.bytes;
        if (room > 0) into.chunks.push(chunk.subarray(0, room));
        into.bytes = maxBuffer;
        onOverflow(name);
        stream.destroy();
        return;
      }
      into.chunks.push(chunk);
      into.bytes += chunk.length;
      if (all) all.chunks.push(chunk);
    });
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
  });
}

/**
 * Runs a program to completion and collects its output.
 * Rejects ProcessError on spawn failure, NonZeroExit, TerminatedBySignal or TimedOut,
 * unless `reject: false`.
 * @example
 * const { stdout } = await run('git', ['log', '-1', '--format=%H'], { timeout: 2000 });
 * const r = await run('sh', ['-c', 'exit 3'], { reject: false }); // r.status.code === 3
 */
// Buffers only when asked: an optional options here would make run('true') a Buffer result.
export async function run(
  program: string,
  args: readonly string[] | undefined,
  options: RunOptions & { encoding: 'buffer' },
): Promise<RunResult<Buffer>>;
export async function run(
  program: string,
  args?: readonly string[],
  options?: RunOptions,
): Promise<RunResult<string>>;
export async function run(
  program: string,
  args: readonly string[] = [],
  options: RunOptions = {},
): Promise<RunResult<string | Buffer>> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid('options', options, 'must be an object of run options');
  }
  checkKnownKeys(options, RUN_OPTION_KEYS, 'run option');
  const maxBuffer = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
  if (typeof maxBuffer !== 'number' || !(maxBuffer > 0)) {
    throw invalid('maxBuffer', maxBuffer, 'must be a number of bytes > 0');
  }
  const encoding = options.encoding ?? 'utf8';
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) {
    throw invalid('encoding', encoding, "must be 'buffer' or a Node text encoding");
  }
  const {
    input,
    maxBuffer: _m,
    encoding: _e,
    all: wantAll,
    reject = true,
    ...spawnOptions
  } = options;
  const stdin: StdioSpec = input !== undefined ? 'pipe' : (options.stdin ?? 'null');
  const child: ProcessHandle = spawn({
    ...spawnOptions,
    program,
    args,
    stdin,
    stdout: options.stdout ?? 'pipe',
    stderr: options.stderr ?? 'pipe',
  });

  if (input !== undefined && child.stdin) {
    // A child that exits without reading makes our write fail with EPIPE: its exit status
    // is the answer the caller wants, not the write error.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  }

  let overflow: string | null = null;
  const onOverflow = (name: string) => {
    if (overflow !== null) return;
    overflow = name;
    child.kill(spawnOptions.killSignal ?? 'SIGTERM');
  };
  const out: Collector = { chunks: [], bytes: 0 };
  const err: Collector = { chunks: [], bytes: 0 };
  const all: Collector | null = wantAll ? { chunks: [], bytes: 0 } : null;
  // After we stopped the child (timeout, abort, maxBuffer) a grandchild may still hold the
  // pipes open; the caller asked for a bounded run, so stop reading when the child is gone.
  const exited = child.exited.then((s) => {
    if (child.timedOut || child.aborted || overflow !== null) {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
    return s;
  });
  const [status] = await Promise.all([
    exited,
    collect(child.stdout, 'stdout', out, all, maxBuffer, onOverflow),
    collect(child.stderr, 'stderr', err, all, maxBuffer, onOverflow),
  ]);

  const decode = (c: Collector): string | Buffer => {
    const buf = Buffer.concat(c.chunks);
    return encoding === 'buffer' ? buf : buf.toString(encoding);
  };
  const result: RunResult<string | Buffer> = {
    command: program,
    args,
    pid: child.pid,
    stdout: decode(out),
    stderr: decode(err),
    status,
    timedOut: child.timedOut,
    aborted: child.aborted,
  };
  if (all) result.all = decode(all);
  if (!reject) return result;

  const shown = [program, ...args].join(' ');
  const details = {
    status,
    stdout: result.stdout,
    stderr: result.stderr,
    all: result.all,
    command: shown,
  };
  if (overflow !== null) {
    throw new ProcessError(
      'TerminatedBySignal',
      `run ${shown}: ${overflow} exceeded maxBuffer (${maxBuffer} bytes); the child was stopped (${describeStatus(status)})`,
      { ...details, code: 'MAXBUFFER' },
    );
  }
  if (child.timedOut) {
    throw new ProcessError(
      'TimedOut',
      `run ${shown}: timed out after ${options.timeout} ms and was stopped (${describeStatus(status)})`,
      { ...details, code: 'ETIMEDOUT' },
    );
  }
  if (child.aborted) {
    throw new ProcessError(
      'TerminatedBySignal',
      `run ${shown}: aborted (${describeStatus(status)})`,
      {
        ...details,
        code: status.signal ?? 'ABORT_ERR',
        aborted: true,
        cause: options.signal?.reason,
      },
    );
  }
  if (status.signal !== null) {
    throw new ProcessError('TerminatedBySignal', `run ${shown}: ${describeStatus(status)}`, {
      ...details,
      code: status.signal,
    });
  }
  if (status.code !== 0) {
    throw new ProcessError('NonZeroExit', `run ${shown}: ${describeStatus(status)}`, {
      ...details,
      code: status.code ?? 'UNKNOWN',
    });
  }
  return result;
}
