/**
 * ChildProcess: node:child_process's EventEmitter over one of our ProcessHandles. The events
 * and fields follow Node's order and timing: 'spawn' on the next tick after a successful
 * spawn; 'exit' when the child is reaped; 'close' once it exited AND every readable stdio
 * stream closed; a spawn failure Node reports late (ENOENT, EACCES, EAGAIN, EMFILE, ENFILE)
 * becomes an async 'error' followed by 'close', with `pid` undefined.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { ExitStatus, ResourceUsage } from '../exit-status.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SignalName } from '../process/signals.js';
import { errnoException } from './errors.js';
import { signalToNumber } from './normalize.js';

export type StdioStream = Readable | Writable | net.Socket | null;

const SIGNAL_NAMES = new Map<number, SignalName>();
for (const [name, num] of Object.entries(constants.signals)) {
  if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name as SignalName);
}

/** The errno codes libuv's spawn reports through 'error' instead of throwing. */
export const LATE_SPAWN_ERRORS: ReadonlySet<string> = new Set([
  'EACCES',
  'EAGAIN',
  'EMFILE',
  'ENFILE',
  'ENOENT',
]);

/** Set by channel.ts when the child has a channel. */
export interface ChannelHooks {
  send(message: unknown, handle?: unknown, options?: unknown, callback?: unknown): boolean;
  disconnect(): void;
  /** Closes our end when the child is gone without a 'disconnect' from either side. */
  onChildExit(): void;
}

export class ChildProcess extends EventEmitter {
  /** The child's pid; undefined when spawning failed. */
  pid: number | undefined = undefined;
  stdin: Writable | null = null;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  stdio: StdioStream[] = [];
  /** The exit code; null until exit or when a signal ended the child; -errno after a spawn error. */
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  /** True once kill() delivered a signal (any signal, 0 included, as Node does). */
  killed = false;
  connected = false;
  spawnfile = '';
  spawnargs: string[] = [];
  /** Our extra: the reaped child's resource usage (CPU, peak RSS, faults); null until exit. */
  rusage: ResourceUsage | null = null;
  /** Our extra: the full exit status (durationMs, coreDumped...); null until exit. */
  exitStatus: ExitStatus | null = null;
  /**
   * Sends a message over the IPC channel. As in Node, present only when the child has one
   * (fork, or 'ipc' in stdio); typed as always there, as @types/node does.
   */
  declare send: ChannelHooks['send'];
  /** Closes the IPC channel (present only with one, as `send`). */
  declare disconnect: () => void;
  /** The IPC channel (`ref`/`unref`/`fd`), present only with one; `_channel` is an alias. */
  declare channel?: { ref(): void; unref(): void; readonly fd: number } | null;

  #handle: ProcessHandle | null = null;
  #closesNeeded = 1;
  #closesGot = 0;
  #channel: ChannelHooks | null = null;

  /** @internal spawn.ts wires a started handle and its streams. */
  _attach(handle: ProcessHandle, stdio: StdioStream[], readableIndexes: number[]): void {
    this.#handle = handle;
    this.pid = handle.pid;
    this.#setStdio(stdio);
    for (const i of readableIndexes) {
      const stream = stdio[i];
      if (!stream) continue;
      this.#closesNeeded++;
      stream.once('close', () => this._maybeClose());
    }
    // A check-phase hop: output the child wrote before exiting, already readable in this
    // poll phase, is delivered before 'exit', which is the order libuv gives Node.
    void handle.exited.then((status) => setImmediate(() => this.#onExit(status)));
    process.nextTick(() => this.emit('spawn'));
  }

  /** @internal A late spawn error (Node's list): 'error' then 'close' on the next tick. */
  _failLate(err: Error & { errno?: number }, stdio: StdioStream[]): void {
    this.#setStdio(stdio);
    process.nextTick(() => {
      this.exitCode = err.errno ?? -1;
      this.emit('error', err);
      this._maybeClose();
    });
  }

  /** @internal channel.ts: one more stream whose close 'close' waits for. */
  _setChannel(channel: ChannelHooks): void {
    this.#channel = channel;
    this.#closesNeeded++;
    this.connected = true;
    this.send = channel.send;
    this.disconnect = channel.disconnect;
  }

  /** @internal */
  _maybeClose(): void {
    this.#closesGot++;
    if (this.#closesGot === this.#closesNeeded) {
      this.emit('close', this.exitCode, this.signalCode);
    }
  }

  #setStdio(stdio: StdioStream[]): void {
    this.stdio = stdio;
    this.stdin = (stdio[0] as Writable | null) ?? null;
    this.stdout = (stdio[1] as Readable | null) ?? null;
    this.stderr = (stdio[2] as Readable | null) ?? null;
  }

  #onExit(status: ExitStatus): void {
    this.exitStatus = status;
    this.rusage = status.rusage;
    if (status.signal !== null) this.signalCode = status.signal as NodeJS.Signals;
    else this.exitCode = status.code;
    this.stdin?.destroy();
    this.emit('exit', this.exitCode, this.signalCode);
    this.#channel?.onChildExit();
    // Node drains streams nobody consumed, so their 'close' (and ours) still come.
    process.nextTick(() => {
      for (const s of this.stdio) {
        const r = s as Readable | null;
        if (!r?.readable) continue;
        if (r.readableFlowing === null && r.listenerCount('readable') === 0) r.resume();
      }
    });
    this._maybeClose();
  }

  /**
   * Sends a signal (name or number; default SIGTERM). True when delivered; false once the
   * child has exited. An unknown signal throws ERR_UNKNOWN_SIGNAL, as in Node.
   * @example
   * const child = spawn('sleep', ['10']);
   * child.kill('SIGINT');
   */
  kill(signal?: NodeJS.Signals | number): boolean {
    const num = signalToNumber(signal === undefined ? 'SIGTERM' : signal);
    const handle = this.#handle;
    if (handle === null || !handle.running) return false;
    if (num === 0) {
      this.killed = true;
      return true;
    }
    const name = SIGNAL_NAMES.get(num) as SignalName;
    try {
      if (!handle.kill(name)) return false;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      this.emit('error', errnoException(typeof code === 'string' ? code : 'EPERM', 'kill'));
      return false;
    }
    this.killed = true;
    return true;
  }

  /**
   * Our extra: signals the child's whole tree. With `detached: true` the child leads its own
   * session and group, and the whole group is signalled; otherwise only the child.
   * @example
   * const sh = spawn('sh', ['-c', 'sleep 100 & wait'], { detached: true });
   * sh.killTree('SIGKILL');
   */
  killTree(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const num = signalToNumber(signal);
    const handle = this.#handle;
    if (handle === null) return false;
    const sent = handle.killTree(SIGNAL_NAMES.get(num) as SignalName);
    if (sent) this.killed = true;
    return sent;
  }

  /**
   * Keeps the event loop alive until the child exits (the default).
   * @example child.unref(); child.ref();
   */
  ref(): void {
    this.#handle?.ref();
  }

  /**
   * Lets this process exit while the child runs. As in Node, open stdio pipes still hold the
   * loop: only the process itself is unreferenced.
   * @example spawn('sleep', ['100'], { detached: true, stdio: 'ignore' }).unref();
   */
  unref(): void {
    const handle = this.#handle;
    if (handle === null) return;
    handle.unref();
    for (const s of this.stdio) (s as { ref?: () => void } | null)?.ref?.();
  }

  /** Kills the child unless already killed (Node's `using child = spawn(...)`). */
  [Symbol.dispose](): void {
    if (!this.killed) this.kill();
  }
}

/** A stdio stream that never carries data: what Node gives for pipes of a failed spawn. */
export function deadSocket(): net.Socket {
  return new net.Socket();
}
