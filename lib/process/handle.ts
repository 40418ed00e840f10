/**
 * ProcessHandle: one running (or finished) child. Exit is observed on the event loop by the
 * addon; `exited` settles exactly once, whichever of the async watcher or waitSync() reaped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoName, ProcessError } from '../errors.js';
import { type NativeChild, type NativeStatus, native } from '../native.js';
import { getAffinity, setAffinity } from '../sched/affinity.js';
import {
  getRlimit,
  type RlimitName,
  type RlimitPair,
  type RlimitValue,
  setRlimit,
} from '../sched/rlimits.js';
import {
  getNice,
  getScheduler,
  type SchedulerInfo,
  type SchedulerSpec,
  setNice,
  setScheduler,
} from '../sched/scheduler.js';
import { OnreadReader } from './onread.js';
import type { Containment, PreparedSpawn } from './options.js';
import { type ChildOutput, PipeReader } from './pipe-reader.js';
import { describeSandbox, type SandboxEnforcement } from './sandbox-fs.js';
import { type SignalName, signalNumber } from './signals.js';
import { decodeStatus, type ExitStatus } from './status.js';

export interface WaitOptions {
  /** Milliseconds; rejects (or throws) ProcessError kind 'TimedOut'. The child keeps running. */
  timeout?: number;
}

function checkTimeout(op: string, options: WaitOptions | undefined): number | undefined {
  const t = options?.timeout;
  if (t === undefined) return undefined;
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
    throw new ProcessError(
      'InvalidCommand',
      `invalid ${op} timeout: ${String(t)} must be a finite number of milliseconds >= 0`,
      { field: 'timeout', code: 'EINVAL' },
    );
  }
  return t;
}

// Scans /proc for a non-zombie process whose process group is `pgid`.
function groupHasLiveMember(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') return true;
    } catch {
      // exited while we looked
    }
  }
  return false;
}

export class ProcessHandle {
  /** The child's process id. */
  readonly pid: number;

  /**
   * Which spawn path ran: 'posix_spawn' or 'clone' (CLONE_VM|CLONE_VFORK); 'clone3' when the
   * same child was created straight inside its cgroup (CLONE_INTO_CGROUP); 'adopted' for a
   * process another process started and we took over (see adoptProcess).
   */
  readonly spawnMethod: 'posix_spawn' | 'clone' | 'clone3' | 'adopted';
  readonly command: string;
  readonly args: readonly string[];
  /** Settles once with the exit status; never rejects. */
  readonly exited: Promise<ExitStatus>;
  /**
   * What enforces the `sandbox` option, mechanism by mechanism (docs/sandbox.md); null
   * without one. Nothing is weakened silently: e.g. filesystem ['landlock-abi2',
   * 'mount-readonly'] on a 6.1 kernel, ['landlock-abi6'] on a current one.
   */
  readonly sandbox: SandboxEnforcement | null;
  /** True once a `timeout` option fired and the kill escalation began. */
  timedOut = false;
  /** True once the `signal` option aborted the child. */
  aborted = false;

  #native: NativeChild;
  #prepared: PreparedSpawn;
  #status: ExitStatus | null = null;
  #resolve!: (s: ExitStatus) => void;
  #waiters = new Set<(s: ExitStatus) => void>();
  #fds: [number, number, number];
  #streams: [Writable | null, Readable | null, Readable | null] = [null, null, null];
  #timers: NodeJS.Timeout[] = [];
  #refed = true;
  #onAbort: (() => void) | null = null;
  #abortSignal: AbortSignal | undefined;

  /** @internal Use spawn(). */
  constructor(nativeChild: NativeChild, prepared: PreparedSpawn, signal: AbortSignal | undefined) {
    this.#native = nativeChild;
    this.#prepared = prepared;
    this.pid = nativeChild.pid;
    this.spawnMethod = nativeChild.spawnMethod;
    this.command = prepared.command;
    this.args = prepared.args;
    this.sandbox = prepared.request.sandbox ? describeSandbox(prepared.request.sandbox) : null;
    this.#fds = [...nativeChild.fds] as [number, number, number];
    this.exited = new Promise<ExitStatus>((resolve) => {
      this.#resolve = resolve;
    });
    if (prepared.timeout !== undefined) {
      this.#timers.push(setTimeout(() => this.#escalate('timeout'), prepared.timeout));
    }
    if (signal !== undefined) {
      this.#abortSignal = signal;
      this.#onAbort = () => this.#escalate('abort');
      if (signal.aborted) queueMicrotask(this.#onAbort);
      else signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    // A caller-owned buffer is read from the start: nobody has to touch child.stdout first.
    // Should that fail (uv_poll_init: ENOMEM), the caller never gets this handle, so the
    // child must not outlive the throw: the exit watcher still reaps it.
    try {
      for (const i of [1, 2] as const) if (prepared.onread?.[i]) this.#stream(i);
    } catch (error) {
      nativeChild.kill(signalNumber('SIGKILL'));
      throw error;
    }
  }

  /** @internal Called by the addon's exit watcher (through spawn()). */
  _onExit(raw: NativeStatus): void {
    this.#settle(decodeStatus(this.pid, raw));
  }

  /** The child's process group: its own pid with processGroup/newSession, else the one it joined. */
  get pgid(): number {
    const pgid = this.#prepared.request.pgid;
    // Looked up on demand: a syscall per spawn for a value most callers never read.
    return this.#prepared.ownGroup ? this.pid : pgid > 0 ? pgid : native.getpgid(0);
  }

  /** The child's stdin as a writable stream when spawned with stdin: 'pipe', else null. */
  get stdin(): Writable | null {
    return this.#stream(0) as Writable | null;
  }
  /**
   * The child's stdout as a readable stream when spawned with stdout 'pipe', 'socketpair' or
   * { onread }, else null. `child.stdout.pipeTo(dest)` splices it into a file, socket or fd.
   */
  get stdout(): ChildOutput | null {
    return this.#stream(1) as ChildOutput | null;
  }
  /** The child's stderr, as stdout. */
  get stderr(): ChildOutput | null {
    return this.#stream(2) as ChildOutput | null;
  }

  /**
   * @internal Hands over our raw end of pipe `i` (0 stdin, 1 stdout, 2 stderr) instead of a
   * stream: the caller owns and closes it. -1 when there is none or a stream already took it.
   * For spawnSync (lib/child_process), which drains the pipes natively.
   */
  _takeFd(i: 0 | 1 | 2): number {
    if (this.#streams[i]) return -1;
    const fd = this.#fds[i] ?? -1;
    this.#fds[i] = -1;
    return fd;
  }

  /** True until the child has been reaped. */
  get running(): boolean {
    return this.#status === null;
  }

  /** The exit status once reaped, else null. */
  get status(): ExitStatus | null {
    return this.#status;
  }

  /**
   * Waits for exit; with a timeout, rejects ProcessError 'TimedOut' and leaves the child running.
   * The deadline is a CLOCK_MONOTONIC timerfd, so it fires within microseconds, not milliseconds.
   * @example
   * const child = spawn({ program: 'sleep', args: ['5'] });
   * try { await child.wait({ timeout: 100 }); } catch { child.kill('SIGKILL'); }
   */
  wait(options?: WaitOptions): Promise<ExitStatus> {
    const timeout = checkTimeout('wait', options);
    if (this.#status !== null || timeout === undefined) return this.exited;
    return new Promise<ExitStatus>((resolve, reject) => {
      const onExit = (status: ExitStatus) => {
        native.timerCancel(id);
        resolve(status);
      };
      // A timed-out wait must leave nothing behind: a health check calling this every
      // second on a long-lived child would otherwise grow without bound.
      const id = native.timerStart(timeout, () => {
        this.#waiters.delete(onExit);
        reject(
          new ProcessError('TimedOut', `wait: pid ${this.pid} still running after ${timeout} ms`, {
            code: 'ETIMEDOUT',
            command: this.command,
          }),
        );
      });
      this.#waiters.add(onExit);
    });
  }

  /**
   * Blocks this thread until the child exits or the timeout passes (then throws 'TimedOut').
   * For worker threads and scripts; on the main thread it stalls the event loop meanwhile.
   * @example
   * const status = spawn({ program: 'true' }).waitSync({ timeout: 1000 });
   */
  waitSync(options?: WaitOptions): ExitStatus {
    const timeout = checkTimeout('waitSync', options);
    if (this.#status !== null) return this.#status;
    const r = this.#native.waitSync(timeout === undefined ? -1 : timeout);
    if (r === null) {
      throw new ProcessError(
        'TimedOut',
        `waitSync: pid ${this.pid} still running after ${timeout} ms`,
        {
          code: 'ETIMEDOUT',
          command: this.command,
        },
      );
    }
    if (typeof r === 'number') {
      const code = errnoName(-r);
      throw new ProcessError('SpawnFailed', `waitSync: pid ${this.pid}: ${code}`, {
        code,
        errno: -r,
        syscall: 'waitid',
      });
    }
    return this.#settle(decodeStatus(this.pid, r));
  }

  /**
   * Sends a signal through the pidfd, so it can never reach a recycled pid.
   * Returns false once the child has been reaped.
   * @example
   * child.kill('SIGINT');
   */
  kill(signal: SignalName = 'SIGTERM'): boolean {
    const r = this.#native.kill(signalNumber(signal));
    return this.#signalResult('kill', signal, r);
  }

  /**
   * Signals the child's whole process group (spawn with processGroup or newSession).
   * Works after the leader exited while members remain.
   * @example
   * const sh = spawn({ program: 'sh', args: ['-c', 'sleep 100 & sleep 100'], processGroup: true });
   * sh.killGroup('SIGKILL');
   */
  killGroup(signal: SignalName = 'SIGTERM'): boolean {
    const num = signalNumber(signal);
    if (!this.#prepared.ownGroup && this.#prepared.request.pgid <= 0) {
      throw new ProcessError(
        'InvalidCommand',
        `killGroup: pid ${this.pid} shares our own process group; spawn it with processGroup: true`,
        { field: 'processGroup', code: 'EINVAL' },
      );
    }
    return this.#signalResult('killGroup', signal, this.#native.killGroup(num, this.pgid));
  }

  /**
   * How far a tree kill reaches: 'cgroup' (everything the child ever forked), 'group' (its
   * process group; a member that called setsid has left it), or 'none'.
   */
  get containment(): Containment {
    return this.#prepared.containment;
  }

  /**
   * The child's own cgroup v2 directory with containment 'cgroup', else null. For a member of
   * a pipeline with containment 'cgroup', the line's: its killTree and treeAlive are the line's.
   */
  get cgroupPath(): string | null {
    return this.#prepared.cgroup?.path ?? null;
  }

  /**
   * Signals the whole tree: every process in the child's cgroup (containment 'cgroup'), or
   * the process group it leads. Works after the child itself exited while descendants remain.
   * A child that leads no group of its own (processGroup: false, or a joined group) has no
   * tree we can name: only the child is signalled. Returns true when at least one process was signalled.
   * @example
   * const sh = spawn({ program: 'sh', args: ['-c', 'setsid sleep 100 & sleep 100'], containment: 'cgroup' });
   * sh.killTree('SIGKILL'); // the setsid'd sleep too
   */
  killTree(signal: SignalName = 'SIGTERM'): boolean {
    const cg = this.#prepared.cgroup;
    if (cg !== null) return cg.signal(signal) > 0;
    // A group the child only joined (processGroup: <pgid>) or ours is not its tree: signalling
    // it would reach processes it never started, so only the child itself is signalled.
    if (!this.#prepared.ownGroup) return this.kill(signal);
    return this.killGroup(signal);
  }

  /**
   * Hands the child's containment cgroup to the child itself: if this process then dies
   * (SIGKILL included), the next `reapOrphanCgroups` spares the tree while the child lives,
   * and cleans it once the child is gone. For children meant to outlive us, to be adopted
   * (a supervisor started with `--adopt`). False without a cgroup, or when the rename failed.
   * @example
   * const child = spawn({ program: 'server', containment: 'cgroup', dieWithParent: false });
   * child.leaseTree(); // true
   */
  leaseTree(): boolean {
    return this.#prepared.cgroup?.leaseTo(this.pid) ?? false;
  }

  /**
   * True while any process of the tree (cgroup, or process group) is alive. Zombies do not
   * count: they have left the cgroup, and for a group they are skipped (an init that never
   * reaps, as in some containers, would otherwise keep a group "alive" forever).
   */
  treeAlive(): boolean {
    const cg = this.#prepared.cgroup;
    if (cg !== null) return cg.populated();
    if (!this.#prepared.ownGroup) return this.running;
    if (this.#native.killGroup(0, this.pgid) !== 1) return false;
    return groupHasLiveMember(this.pgid);
  }

  /**
   * Stops the whole tree: `signal` to every member, then SIGKILL to whatever is left after
   * `grace` ms; resolves once the tree is empty.
   * @example
   * await child.terminateTree({ signal: 'SIGTERM', grace: 2000 });
   */
  async terminateTree(options: { signal?: SignalName; grace?: number } = {}): Promise<void> {
    const grace = options.grace ?? this.#prepared.killGrace;
    this.killTree(options.signal ?? 'SIGTERM');
    const deadline = Date.now() + grace;
    while (this.treeAlive() && Date.now() < deadline) await sleep(20);
    if (this.treeAlive()) this.killTree('SIGKILL');
    // SIGKILL is prompt unless a member sleeps uninterruptibly in the kernel (D state, e.g.
    // on a dead NFS server): bounded, so a stuck member does not hang the caller.
    for (let i = 0; i < 1000 && this.treeAlive(); i++) await sleep(10);
    await this.exited;
  }

  /** Keeps the event loop alive until the child exits (the default). */
  ref(): this {
    this.#refed = true;
    this.#native.ref();
    for (const t of this.#timers) t.ref();
    for (const s of this.#streams) (s as net.Socket | PipeReader | OnreadReader | null)?.ref();
    return this;
  }

  /** Lets the process exit while the child still runs. */
  unref(): this {
    this.#refed = false;
    this.#native.unref();
    for (const t of this.#timers) t.unref();
    for (const s of this.#streams) (s as net.Socket | PipeReader | OnreadReader | null)?.unref();
    return this;
  }

  /**
   * The CPUs the child's main thread may run on (`taskset -p`).
   * @example
   * spawn({ program: 'sleep', args: ['9'], affinity: [1] }).getAffinity(); // [1]
   */
  getAffinity(): number[] {
    this.#mustBeRunning('getAffinity');
    return getAffinity(this.pid);
  }

  /**
   * Pins every thread of the running child to `cpus` (`taskset -a -p -c`).
   * @example
   * child.setAffinity([0]);
   */
  setAffinity(cpus: readonly number[]): this {
    this.#mustBeRunning('setAffinity');
    setAffinity(this.pid, cpus, { allThreads: true });
    return this;
  }

  /**
   * The policy and realtime priority of the child's main thread (`chrt -p`).
   * @example
   * child.getScheduler(); // { policy: 'other', priority: 0, resetOnFork: false }
   */
  getScheduler(): SchedulerInfo {
    this.#mustBeRunning('getScheduler');
    return getScheduler(this.pid);
  }

  /**
   * Sets the policy and priority of every thread of the child (`chrt -a -p`).
   * @example
   * child.setScheduler({ policy: 'fifo', priority: 10 });
   */
  setScheduler(spec: SchedulerSpec): this {
    this.#mustBeRunning('setScheduler');
    setScheduler(this.pid, spec, { allThreads: true });
    return this;
  }

  /**
   * The nice value of the child's main thread.
   * @example
   * child.getNice(); // 0
   */
  getNice(): number {
    this.#mustBeRunning('getNice');
    return getNice(this.pid);
  }

  /**
   * Sets the nice value of every thread of the child (`renice`).
   * @example
   * child.setNice(10);
   */
  setNice(nice: number): this {
    this.#mustBeRunning('setNice');
    setNice(this.pid, nice, { allThreads: true });
    return this;
  }

  /**
   * A resource limit of the child (`prlimit --pid`).
   * @example
   * child.getRlimit('nofile'); // { soft: 1024, hard: 1024 }
   */
  getRlimit(name: RlimitName): RlimitPair {
    this.#mustBeRunning('getRlimit');
    return getRlimit(this.pid, name);
  }

  /**
   * Changes a resource limit of the running child.
   * @example
   * child.setRlimit('core', 0);
   */
  setRlimit(name: RlimitName, value: RlimitValue): this {
    this.#mustBeRunning('setRlimit');
    setRlimit(this.pid, name, value);
    return this;
  }

  // Until we reap it the pid cannot be recycled (a zombie holds it), so acting by pid is safe;
  // after that it could name someone else's process.
  #mustBeRunning(op: string): void {
    if (this.#status !== null) {
      throw new ProcessError(
        'NotFound',
        `${op}: process ${this.pid} (${this.command}) has exited`,
        {
          code: 'ESRCH',
        },
      );
    }
  }

  #signalResult(op: string, signal: string, r: number): boolean {
    if (r >= 0) return r === 1;
    const code = errnoName(-r);
    throw new ProcessError(
      code === 'EPERM' ? 'PermissionDenied' : 'SpawnFailed',
      `${op}(${signal}) of pid ${this.pid} failed: ${code}`,
      { code, errno: -r, syscall: op === 'kill' ? 'pidfd_send_signal' : 'killpg' },
    );
  }

  #settle(status: ExitStatus): ExitStatus {
    if (this.#status !== null) return this.#status;
    // Read before anything can remove the cgroups: the counters go with the directories.
    this.#prepared.limits?.annotate(status);
    this.#status = status;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    if (this.#onAbort) this.#abortSignal?.removeEventListener('abort', this.#onAbort);
    // Pipes nobody asked for yet become streams now, so their data stays readable and
    // their descriptors close at EOF instead of leaking.
    for (let i = 0; i < 3; i++) this.#stream(i);
    // As node:child_process does: stdin can only fail now, and nothing else would close it.
    this.#streams[0]?.destroy();
    // The directory goes when its last member does (descendants may outlive the child). A
    // pipeline's cgroup holds the other members too: the line removes it.
    if (this.#prepared.cgroupShared !== true) this.#prepared.cgroup?.removeWhenEmpty();
    this.#prepared.limits?.removeWhenEmpty();
    this.#resolve(status);
    for (const waiter of this.#waiters) waiter(status);
    this.#waiters.clear();
    return status;
  }

  // Streams are created on first use: a child whose output is never looked at costs no
  // socket, which is most of the per-child memory.
  #stream(i: number): Writable | Readable | null {
    const existing = this.#streams[i];
    if (existing) return existing;
    const fd = this.#fds[i] ?? -1;
    if (fd < 0) return null;
    this.#fds[i] = -1;
    const grow = this.#prepared.pipeSize === undefined;
    const onread = i === 0 ? null : (this.#prepared.onread?.[i as 1 | 2] ?? null);
    const stream =
      i === 0
        ? new net.Socket({ fd, readable: false, writable: true })
        : onread !== null
          ? new OnreadReader(fd, i === 1 ? 'stdout' : 'stderr', onread, grow)
          : new PipeReader(fd, grow);
    if (!this.#refed) stream.unref();
    this.#streams[i] = stream;
    return stream;
  }

  #escalate(reason: 'timeout' | 'abort'): void {
    if (this.#status !== null) return;
    if (reason === 'timeout') this.timedOut = true;
    else this.aborted = true;
    const p = this.#prepared;
    // A child that leads its own group takes its group down with it: that is why it has one.
    const send = (sig: SignalName) =>
      p.cgroup !== null ? this.killTree(sig) : p.ownGroup ? this.killGroup(sig) : this.kill(sig);
    send(p.killSignal);
    if (p.killSignal !== 'SIGKILL') {
      const t = setTimeout(() => {
        if (this.#status === null) send('SIGKILL');
      }, p.killGrace);
      if (!this.#refed) t.unref();
      this.#timers.push(t);
    }
  }
}
