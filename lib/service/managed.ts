/**
 * ManagedProcess: one child the process service started and keeps track of, with its output
 * captured in ring buffers, a line-by-line output event stream, and a snapshot for
 * `process.get` / `process.list`.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ProcessError } from '../errors.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import type { SignalName } from '../process/signals.js';
import { spawn } from '../process/spawn.js';
import type { ExitStatus, ResourceUsage } from '../process/status.js';
import { OutputRing } from './ring.js';

export type ManagedStatus = 'pending' | 'running' | 'exited' | 'failed' | 'killed';

export interface ProcessSnapshot {
  id: string;
  pid: number | null;
  pgid: number | null;
  command: string;
  args: string[];
  cwd: string;
  status: ManagedStatus;
  exitCode: number | null;
  signal: string | null;
  /** ISO 8601. */
  startedAt: string;
  durationMs: number | null;
  rusage: ResourceUsage | null;
  /** Why the spawn failed, for status 'failed'. */
  error?: string;
}

export interface CapturedOutput {
  stdout: string;
  stderr: string;
  /** Bytes the ring buffers dropped from the front (oldest first). */
  dropped: { stdout: number; stderr: number };
}

/** What a managed process reports; the service turns these into bus events. */
export type ManagedEvent =
  | { topic: 'process.started'; payload: ProcessSnapshot & { spawnMs: number } }
  | { topic: 'process.output'; payload: { id: string; stream: 'stdout' | 'stderr'; line: string } }
  | { topic: 'process.exited'; payload: ProcessSnapshot & { output: string } }
  | { topic: 'process.killed'; payload: { id: string; pid: number | null; signal: SignalName } };

/**
 * How long 'exited' waits for end-of-file on the output pipes once the child has exited.
 * Writers that all died give EOF within microseconds; one that lives on would hold it back
 * for as long as it runs.
 */
const DRAIN_MS = 500;

export class ManagedProcess {
  readonly id: string;
  readonly command: string;
  readonly args: string[];
  readonly cwd: string;
  readonly startedAt: Date;
  /** Settles with the exit status; never rejects (null when the spawn failed). */
  readonly done: Promise<ExitStatus | null>;
  #handle: ProcessHandle | null = null;
  #pgid: number | null = null;
  #status: ManagedStatus = 'pending';
  #exit: ExitStatus | null = null;
  #error: string | undefined;
  #killed = false;
  #bufferSize: number;
  #rings: { stdout: OutputRing | null; stderr: OutputRing | null } = { stdout: null, stderr: null };
  #emit: (e: ManagedEvent) => void;
  #wants: (topic: ManagedEvent['topic']) => boolean;

  /**
   * Spawns at once; a spawn failure leaves the process in status 'failed' and is rethrown.
   * `wants` says whether anyone listens to a topic, so events nobody hears cost nothing
   * (no snapshot, no line splitting); it defaults to yes.
   * @example
   * const m = new ManagedProcess('proc-1', { program: 'ls' }, 1 << 20, (e) => bus.publish(e.topic, e.payload));
   * await m.done;
   */
  constructor(
    id: string,
    options: SpawnOptions,
    bufferSize: number,
    emit: (e: ManagedEvent) => void,
    wants: (topic: ManagedEvent['topic']) => boolean = () => true,
  ) {
    this.id = id;
    this.command = options.program;
    this.args = [...(options.args ?? [])];
    this.cwd = options.cwd ?? process.cwd();
    this.startedAt = new Date();
    this.#emit = emit;
    this.#wants = wants;
    // Rings are made at the first byte: most short-lived children print nothing on stderr.
    this.#bufferSize = bufferSize;
    let resolveDone!: (s: ExitStatus | null) => void;
    this.done = new Promise((resolve) => {
      resolveDone = resolve;
    });
    const t0 = performance.now();
    try {
      this.#handle = spawn({ stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', ...options });
    } catch (e) {
      this.#status = 'failed';
      this.#error = e instanceof Error ? e.message : String(e);
      resolveDone(null);
      throw e;
    }
    const h = this.#handle;
    this.#pgid = h.pgid; // read while the child surely exists
    this.#status = 'running';
    // How long the spawn call took (fork/exec and the child-side setup): a metric's latency.
    const spawnMs = performance.now() - t0;
    if (wants('process.started')) {
      emit({ topic: 'process.started', payload: { ...this.snapshot(), spawnMs } });
    }
    const readers = [this.#capture('stdout', h.stdout), this.#capture('stderr', h.stderr)];
    void h.exited.then(async (status) => {
      // Output events and the captured text are complete before 'exited' is reported, unless
      // something the child left behind (a background job outside any group we kill) still
      // holds the pipes: then 'exited' comes after DRAIN_MS and capture goes on meanwhile.
      let bound: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(readers),
        new Promise<void>((resolve) => {
          bound = setTimeout(resolve, DRAIN_MS).unref();
        }),
      ]);
      clearTimeout(bound);
      this.#exit = status;
      this.#status = this.#killed && status.signal !== null ? 'killed' : 'exited';
      if (wants('process.exited')) {
        // Seed 001 §17.6: ProcessExited carries the Output (what the rings kept of it).
        const { stdout, stderr } = this.output();
        emit({ topic: 'process.exited', payload: { ...this.snapshot(), output: stdout + stderr } });
      }
      resolveDone(status);
    });
  }

  get status(): ManagedStatus {
    return this.#status;
  }

  /** True when the child leads its own process group, so signals go to the whole group. */
  get leadsGroup(): boolean {
    return this.#handle !== null && this.#pgid === this.#handle.pid;
  }

  /** True when the child has a tree of its own to kill: a group it leads, or its cgroup. */
  get ownsTree(): boolean {
    const c = this.#handle?.containment;
    return this.leadsGroup || c === 'cgroup' || c === 'pidns';
  }

  /**
   * True while the child runs, or any member of the tree it owns is alive: a member that
   * ignored the signal its leader died of is still ours to stop.
   * @example
   * while (m.treeAlive()) await sleep(10);
   */
  treeAlive(): boolean {
    const h = this.#handle;
    if (h === null) return false;
    return h.running || (this.ownsTree && h.treeAlive());
  }

  /** The underlying handle; null when the spawn failed. */
  get handle(): ProcessHandle | null {
    return this.#handle;
  }

  snapshot(): ProcessSnapshot {
    const h = this.#handle;
    const snap: ProcessSnapshot = {
      id: this.id,
      pid: h?.pid ?? null,
      pgid: this.#pgid,
      command: this.command,
      args: [...this.args],
      cwd: this.cwd,
      status: this.#status,
      exitCode: this.#exit?.code ?? null,
      signal: this.#exit?.signal ?? null,
      startedAt: this.startedAt.toISOString(),
      durationMs: this.#exit?.durationMs ?? null,
      rusage: this.#exit?.rusage ?? null,
    };
    if (this.#error !== undefined) snap.error = this.#error;
    return snap;
  }

  /**
   * Signals the process, or with `group` the whole tree it owns (its group or cgroup), which
   * still works after the child itself exited while members of its tree live on. False when
   * nothing was left to signal.
   * @example
   * m.kill('SIGTERM');
   */
  kill(signal: SignalName = 'SIGTERM', group = false): boolean {
    const h = this.#handle;
    if (h === null) return false;
    if (!h.running && !(group && this.ownsTree && h.treeAlive())) return false;
    const sent = group ? h.killTree(signal) : h.kill(signal);
    if (sent) {
      this.#killed = true;
      if (this.#wants('process.killed')) {
        this.#emit({ topic: 'process.killed', payload: { id: this.id, pid: h.pid, signal } });
      }
    }
    return sent;
  }

  /**
   * Writes to stdin; `null` closes it. A write nobody can read any more (the child exited,
   * closed its stdin, or an earlier `input(null)` closed it) fails as a ProcessError
   * InvalidCommand with the stream's code (EPIPE, ERR_STREAM_DESTROYED...).
   * @example
   * await m.input('yes\n');
   * await m.input(null); // EOF
   */
  async input(data: string | Buffer | null): Promise<void> {
    const stdin = this.#handle?.stdin;
    if (!stdin) {
      throw new ProcessError('InvalidCommand', `process ${this.id} has no stdin pipe`, {
        field: 'stdin',
      });
    }
    // A write to a child that has exited fails (EPIPE): the callback below reports it; the
    // stream's 'error' event must not become an uncaught exception that takes the host down.
    if (stdin.listenerCount('error') === 0) stdin.on('error', () => {});
    if (data === null) {
      // Destroyed once the child has exited: end() would never call back.
      if (!stdin.destroyed) await new Promise<void>((resolve) => stdin.end(resolve));
      return;
    }
    if (stdin.destroyed || stdin.writableEnded) throw this.#stdinClosed(stdin);
    await new Promise<void>((resolve, reject) =>
      stdin.write(data, (err) => (err ? reject(this.#stdinClosed(stdin, err)) : resolve())),
    );
  }

  #stdinClosed(stdin: NonNullable<ProcessHandle['stdin']>, cause?: Error): ProcessError {
    const why = stdin.writableEnded
      ? 'stdin was already closed'
      : this.#handle?.running
        ? 'the child closed its stdin'
        : 'the child has exited';
    const code =
      (cause as NodeJS.ErrnoException | undefined)?.code ??
      (stdin.writableEnded ? 'ERR_STREAM_WRITE_AFTER_END' : 'EPIPE');
    return new ProcessError('InvalidCommand', `process ${this.id}: cannot write input: ${why}`, {
      field: 'data',
      code,
      syscall: 'write',
      cause,
    });
  }

  /**
   * Lets go of the output pipes, after the child has exited: a descendant still holding them
   * no longer keeps the event loop (and so the host) alive. The service calls it on stop.
   * @example
   * await m.done;
   * m.release();
   */
  release(): void {
    const h = this.#handle;
    if (h === null || h.running) return;
    h.stdout?.destroy();
    h.stderr?.destroy();
  }

  output(): CapturedOutput {
    const { stdout, stderr } = this.#rings;
    return {
      stdout: stdout === null ? '' : stdout.read().toString('utf8'),
      stderr: stderr === null ? '' : stderr.read().toString('utf8'),
      dropped: { stdout: stdout?.dropped ?? 0, stderr: stderr?.dropped ?? 0 },
    };
  }

  // Into the ring as bytes; out as one event per complete line (decoded as UTF-8 across
  // chunk boundaries), the unterminated tail flushed at EOF. Lines are split only while
  // someone listens to process.output.
  #capture(stream: 'stdout' | 'stderr', readable: Readable | null): Promise<void> {
    if (readable === null) return Promise.resolve();
    let ring: OutputRing | null = null;
    let decoder: StringDecoder | null = null;
    let partial = '';
    const lines = (text: string) => {
      partial += text;
      let nl = partial.indexOf('\n');
      while (nl >= 0) {
        this.#emit({
          topic: 'process.output',
          payload: { id: this.id, stream, line: partial.slice(0, nl) },
        });
        partial = partial.slice(nl + 1);
        nl = partial.indexOf('\n');
      }
    };
    return new Promise<void>((resolve) => {
      readable.on('data', (chunk: Buffer) => {
        if (ring === null) {
          ring = new OutputRing(this.#bufferSize);
          this.#rings[stream] = ring;
        }
        ring.append(chunk);
        if (decoder !== null || this.#wants('process.output')) {
          decoder ??= new StringDecoder('utf8');
          lines(decoder.write(chunk));
        }
      });
      const finish = () => {
        if (decoder !== null) lines(decoder.end());
        if (partial.length > 0) {
          this.#emit({ topic: 'process.output', payload: { id: this.id, stream, line: partial } });
          partial = '';
        }
        resolve();
      };
      readable.once('end', finish);
      readable.once('error', finish);
      readable.once('close', finish);
    });
  }
}
