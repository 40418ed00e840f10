/**
 * spawn(): Node's signature and behaviour on our spawn core. One call of lib/process spawn()
 * per child; stdio pipes are socketpairs as in libuv (a writer whose reader left gets
 * EPIPE/ECONNRESET the same way), extra descriptors and the IPC channel are socketpairs
 * handed to the child as fd 3 and up.
 */
import { closeSync } from 'node:fs';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { errnoName } from '../errors.js';
import { native } from '../native.js';
import type { SpawnOptions as CoreOptions, StdioSpec } from '../process/options.js';
import { spawn as coreSpawn } from '../process/spawn.js';
import { setupChannel } from './channel.js';
import { ChildProcess, deadSocket, LATE_SPAWN_ERRORS, type StdioStream } from './child.js';
import { abortError, errnoException } from './errors.js';
import {
  coreOptionsFor,
  type NormalizedSpawn,
  normalizeSpawn,
  type SpawnOptions,
  type StdioEntry,
} from './normalize.js';

function makeSocketpair(): [number, number] {
  const r = native.socketpair();
  if (typeof r === 'number') throw errnoException(errnoName(-r), 'socketpair');
  return r;
}

function coreStdio(entry: StdioEntry, i: number): StdioSpec {
  switch (entry.type) {
    case 'pipe':
      return 'socketpair';
    case 'ignore':
      return 'null';
    case 'fd':
      return entry.fd === i ? 'inherit' : { fd: entry.fd };
    case 'ipc':
      throw new Error('unreachable: ipc is placed by the caller');
  }
}

interface Plan {
  core: CoreOptions;
  /** Our ends of the socketpairs we made, by child fd. */
  ours: Map<number, number>;
  /** Their ends: closed in the parent once the child has them. */
  theirs: number[];
  ipcIndex: number;
}

function plan(n: NormalizedSpawn): Plan {
  const ours = new Map<number, number>();
  const theirs: number[] = [];
  const extra: (number | null)[] = [];
  const streams: StdioSpec[] = [];
  let ipcIndex = -1;
  try {
    n.stdio.forEach((entry, i) => {
      let spec: StdioSpec | number | null;
      if (entry.type === 'ipc' || (entry.type === 'pipe' && i >= 3)) {
        const [a, b] = makeSocketpair();
        ours.set(i, a);
        theirs.push(b);
        if (entry.type === 'ipc') ipcIndex = i;
        spec = i < 3 ? { fd: b } : b;
      } else if (i < 3) {
        // libuv's child makes its stdio blocking; a stream's fd (one of our pipes, a socket)
        // is non-blocking in this process, and the description is shared with the child.
        if (entry.type === 'fd' && entry.stream !== undefined) native.setBlocking(entry.fd);
        spec = coreStdio(entry, i);
      } else {
        spec = entry.type === 'fd' ? entry.fd : null;
      }
      if (i < 3) streams.push(spec as StdioSpec);
      else extra.push(spec as number | null);
    });
  } catch (e) {
    for (const fd of [...ours.values(), ...theirs]) closeSync(fd);
    throw e;
  }
  const core = coreOptionsFor(n, streams);
  if (ipcIndex >= 0) {
    // How Node's child finds its channel (and drops these from its own process.env).
    core.env = {
      ...core.env,
      NODE_CHANNEL_FD: String(ipcIndex),
      NODE_CHANNEL_SERIALIZATION_MODE: n.serialization,
    };
  }
  if (extra.length > 0) core.extraFds = extra;
  return { core, ours, theirs, ipcIndex };
}

/**
 * A stream handed to a child as its stdio is the child's now: as Node does for a
 * handle-backed stream ('wrap'), the parent stops reading it, so no byte is taken on the way
 * (our own child pipes stopped their native reader when they gave up the fd). Node leaves a
 * plain `.fd` stream (an fs stream) alone.
 */
function stopReadingIn(streams: readonly StdioEntry[]): void {
  for (const e of streams) {
    if (e.type !== 'fd' || e.stream === undefined) continue;
    if (typeof (e.stream as { fd?: unknown }).fd === 'number') continue;
    const h = (e.stream as { _handle?: { readStop?: () => number; reading?: boolean } })._handle;
    if (h && typeof h.readStop === 'function') {
      h.reading = false;
      h.readStop();
    }
    const r = e.stream as Readable & { _readableState?: { reading: boolean } };
    if (typeof r.pause === 'function' && r.readable) {
      r.pause();
      if (r._readableState) r._readableState.reading = false;
    }
  }
}

function streamFor(i: number, fd: number): net.Socket {
  if (i === 0) return new net.Socket({ fd, readable: false, writable: true });
  return new net.Socket({ fd, readable: true, writable: true });
}

/** @internal fork() and spawn() share this: start `n` into a fresh ChildProcess. */
export function startChild(n: NormalizedSpawn): ChildProcess {
  const child = new ChildProcess();
  child.spawnfile = n.file;
  child.spawnargs = n.args;
  const p = plan(n);
  let handle: ReturnType<typeof coreSpawn>;
  try {
    handle = coreSpawn(p.core);
  } catch (e) {
    for (const fd of [...p.ours.values(), ...p.theirs]) closeSync(fd);
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('E')) throw e;
    if (!LATE_SPAWN_ERRORS.has(code)) throw errnoException(code, 'spawn');
    const err = errnoException(code, `spawn ${n.file}`) as Error & Record<string, unknown>;
    err.path = n.file;
    err.spawnargs = n.args.slice(1);
    const stdio = n.stdio.map((s) => (s.type === 'pipe' ? deadSocket() : null));
    stopReadingIn(n.stdio);
    child._failLate(err, stdio);
    return child;
  }
  for (const fd of p.theirs) closeSync(fd);
  stopReadingIn(n.stdio);
  const stdio: StdioStream[] = [];
  const readable: number[] = [];
  n.stdio.forEach((entry, i) => {
    if (entry.type !== 'pipe') {
      stdio.push(null);
      return;
    }
    if (i > 0) readable.push(i);
    if (i === 0) stdio.push(handle.stdin);
    else if (i === 1) stdio.push(handle.stdout as Readable);
    else if (i === 2) stdio.push(handle.stderr as Readable);
    else stdio.push(streamFor(i, p.ours.get(i) as number));
  });
  child._attach(handle, stdio, readable);
  if (p.ipcIndex >= 0) {
    setupChannel(child, p.ours.get(p.ipcIndex) as number, n.serialization);
  }
  return child;
}

/** Node's timeout and AbortSignal handling around a started child. */
export function armTimeoutAndSignal(child: ChildProcess, n: NormalizedSpawn): void {
  if (n.timeout > 0) {
    let timer: NodeJS.Timeout | null = setTimeout(() => {
      if (timer === null) return;
      timer = null;
      try {
        child.kill(n.killSignal as NodeJS.Signals);
      } catch (err) {
        child.emit('error', err);
      }
    }, n.timeout);
    child.once('exit', () => {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    });
  }
  const signal = n.signal;
  if (signal !== undefined) {
    const onAbort = () => {
      if (child.kill(n.killSignal as NodeJS.Signals))
        child.emit('error', abortError(signal.reason));
    };
    if (signal.aborted) process.nextTick(onAbort);
    else {
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('exit', () => signal.removeEventListener('abort', onAbort));
    }
  }
}

/**
 * node:child_process spawn() on the @core/process spawn core.
 * @example
 * import { spawn } from '@core/process/child_process';
 * const ls = spawn('ls', ['-l'], { cwd: '/tmp' });
 * ls.stdout.on('data', (d) => process.stdout.write(d));
 * ls.on('close', (code) => console.log('exit', code));
 */
export function spawn(
  file: string,
  args?: readonly string[] | SpawnOptions,
  options?: SpawnOptions,
): ChildProcess {
  const n = normalizeSpawn(file, args, options);
  const child = startChild(n);
  armTimeoutAndSignal(child, n);
  return child;
}
