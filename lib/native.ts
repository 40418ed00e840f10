/**
 * The one typed boundary to the C++ addon. Nothing else imports the `.node` file.
 *
 * The addon is loaded with node-gyp-build: `prebuilds/<platform>-<arch>/` when present,
 * else `build/Release/`. `CORE_PROCESS_ADDON` names an explicit file instead, which is how
 * the sanitizer build (`npm run test:asan`) runs the same suite against an instrumented addon.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** 0 inherit, 1 null, 2 pipe, 3 socketpair, or a descriptor / file to connect. */
// 6: stderr only, the child's fd 2 a dup of its fd 1 (2>&1).
export type NativeStdio = 0 | 1 | 2 | 3 | 6 | { fd: number } | { file: string; append: boolean };

export interface NativeSpawnRequest {
  file: string;
  searchPath: string;
  argv: string[];
  /** Absent: the child gets this process's environ as it is now. */
  env?: string[];
  cwd?: string;
  stdio: [NativeStdio, NativeStdio, NativeStdio];
  /** Child fds 3, 4, ...: our descriptor that becomes fd 3+i, or -1 to leave it closed. */
  extraFds?: number[];
  /** -1 keep ours, 0 new group led by the child, >0 join that group. */
  pgid: number;
  setsid: boolean;
  forceClone: boolean;
  /** CPU ids for sched_setaffinity in the child; absent: see inheritScheduling. */
  affinity?: number[];
  /**
   * sched_setscheduler in the child (priority is sched_priority: 0 unless fifo/rr); policy
   * 'deadline' is sched_setattr with the three *Ns parameters (forces the clone path).
   */
  scheduler?: {
    policy: NativePolicy | 'deadline';
    priority: number;
    resetOnFork: boolean;
    runtimeNs?: number;
    deadlineNs?: number;
    periodNs?: number;
  };
  /** setpriority(PRIO_PROCESS) in the child, -20..19. */
  nice?: number;
  /** prlimit in the child: [resource name, soft, hard]; -1 means unlimited. */
  rlimits?: Array<[NativeRlimit, number, number]>;
  uid?: number;
  gid?: number;
  /**
   * false (the default): whatever of affinity / scheduler / nice was not asked for is reset to
   * the process's baseline (captured when the addon loaded) if the calling thread differs
   * from it. true: the child inherits the calling thread's settings, as the kernel would.
   */
  inheritScheduling: boolean;
  /** O_DIRECTORY fd of a cgroup v2 directory the child joins before anything else. */
  cgroupFd?: number;
  /** O_DIRECTORY fds of resource-limit cgroups (v1 hierarchies) the child joins first too. */
  limitCgroupFds?: number[];
  /** PR_SET_PDEATHSIG in the child: this signal when the spawning thread dies. */
  deathSignal?: number;
  /** F_SETPIPE_SZ on every 'pipe' stream before the child runs. */
  pipeSize?: number;
  /** What the child may do after exec; any value implies no_new_privs (lib/process/sandbox.ts). */
  sandbox?: NativeSandbox;
  /**
   * A PID namespace: the child is its PID 1 and execs `init` (lib/process/pidns.ts), which runs
   * the program as PID 2; mountProc: a fresh /proc in a mount namespace of the child's.
   */
  pidNamespace?: { init: string; mountProc: boolean };
}

/** The sandbox as the addon builds it: syscall numbers already resolved for this arch. */
export interface NativeSandbox {
  seccomp?: { deny: number[]; ttyIoctls: boolean; namespaceClone: boolean };
  /**
   * abi: the Landlock ABI to build for (at most the kernel's); mountReadonly: below ABI 3,
   * everything but `write` read-only in a mount namespace of the child's.
   */
  landlock?: { write: string[]; read?: string[]; abi: number; mountReadonly: boolean };
  /** 0 host, 1 none, 2 loopback. */
  network?: 0 | 1 | 2;
  /** A mount namespace with a fresh tmpfs on /tmp. */
  privateTmp?: boolean;
}

export type NativePolicy = 'other' | 'batch' | 'idle' | 'fifo' | 'rr';
export type NativeRlimit =
  | 'nofile'
  | 'nproc'
  | 'core'
  | 'cpu'
  | 'as'
  | 'data'
  | 'fsize'
  | 'memlock'
  | 'rtprio'
  | 'stack'
  | 'nice'
  | 'rttime'
  | 'msgqueue'
  | 'sigpending'
  | 'locks'
  | 'rss';

/** A failed scheduling call: the kernel's errno and the syscall that returned it. */
export interface NativeSchedError {
  errno: number;
  syscall: string;
}

/** What a failed spawn reports: the real errno and the step that failed. */
export interface NativeSpawnError {
  errno: number;
  syscall: string;
  stage: string;
  path?: string;
  /** For stage 'rlimit': which resource the kernel refused. */
  resource?: string;
}

/**
 * [code (-1 when signalled), signal number (0 when exited), coreDumped, durationMs,
 *  userCpuMs, systemCpuMs, maxRssKb, minorFaults, majorFaults, voluntaryCtxSwitches,
 *  involuntaryCtxSwitches, lost]
 */
export type NativeStatus = [
  number,
  number,
  boolean,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  boolean,
];

export interface NativeChild {
  readonly pid: number;
  /** Our end of each piped stream, -1 elsewhere. JS owns these descriptors. */
  readonly fds: [number, number, number];
  /** 'adopted': not spawned by us, watched through a pidfd (see adopt). */
  readonly spawnMethod: 'posix_spawn' | 'clone' | 'clone3' | 'adopted';
  /** 1 delivered, 0 the child is gone, or -errno. */
  kill(signal: number): number;
  killGroup(signal: number, pgid: number): number;
  /** The status, null on timeout, or -errno. timeoutMs -1 waits forever. */
  waitSync(timeoutMs: number): NativeStatus | null | number;
  ref(): void;
  unref(): void;
}

export interface NativeBinding {
  spawn(
    request: NativeSpawnRequest,
    onExit: (status: NativeStatus) => void,
  ): NativeChild | NativeSpawnError;
  /** Watches a live process that is not our child through a pidfd: its status arrives lost. */
  adopt(pid: number, onExit: (status: NativeStatus) => void): NativeChild | number;
  /** setxattr(2): 0 or -errno (-ENOTSUP off Linux). */
  setXattr(path: string, name: string, value: string): number;
  /** getxattr(2): the value, or -errno. */
  getXattr(path: string, name: string): string | number;
  backend(): {
    exit: 'pidfd' | 'sigchld';
    spawn: 'auto' | 'clone';
    spawnExtensions: { addclosefrom: boolean; addchdir: boolean };
    intoCgroup: 'clone3' | 'join';
  };
  getpgid(pid?: number): number;
  /** Landlock ABI (or -errno) and the seccomp filter architecture ('' when unavailable). */
  sandboxInfo(): { landlockAbi: number; seccompArch: string };
  /** The native number of a syscall name, -1 when this architecture has none. */
  syscallNumber(name: string): number;
  /** PR_SET_CHILD_SUBREAPER for this process: 0 or -errno. */
  setChildSubreaper(on: boolean): number;
  /** waitpid(pid, WNOHANG): 1 reaped, 0 still running, -errno. */
  reapZombie(pid: number): number;
  /** One datagram to a unix datagram socket (sd_notify); 0 or -errno. */
  notifySocket(path: string, message: string): number;
  /** Blocks (true) or unblocks signals on the calling thread; 0 or -errno. Test support. */
  threadSignalMask(block: boolean, signals: number[]): number;
  timerStart(ms: number, callback: () => void): number;
  /** Takes ownership of fd; onData gets the chunks of one wake-up, EOF, and an errno. */
  /** grow (default true): enlarge the pipe to 1 MiB once the writer proves a bulk writer. */
  readerStart(
    fd: number,
    onData: (chunks: Buffer[], eof: boolean, errno: number) => void,
    grow?: boolean,
  ): number;
  /**
   * Takes ownership of fd; every read lands in `buffer` and calls onRead(n): n > 0 bytes,
   * 0 EOF, -errno. onRead answers false to pause, a Uint8Array to read into from now on.
   */
  readerStartInto(
    fd: number,
    buffer: Uint8Array,
    onRead: (n: number) => boolean | Uint8Array,
    grow?: boolean,
  ): number;
  readerPause(id: number): void;
  readerResume(id: number): void;
  readerRef(id: number, on: boolean): void;
  readerClose(id: number): void;
  /** Stops the reader and returns a duplicate of its descriptor for the caller, or -errno. */
  readerDetach(id: number): number;
  /**
   * Moves srcFd's bytes (after `prefix`) to a duplicate of dstFd on a native thread: splice(2),
   * or read/write where splice does not apply. Takes ownership of srcFd (-1: prefix only).
   * Returns a job id or -errno; onDone(errno, bytes, syscall, spliced) runs once.
   */
  pipeTo(
    srcFd: number,
    dstFd: number,
    prefix: Uint8Array | null,
    onDone: (errno: number, bytes: number, syscall: string, spliced: boolean) => void,
    /** 0 auto (read/write for regular files, else splice), 1 splice, 2 read/write. */
    method?: 0 | 1 | 2,
  ): number;
  /** Stops a running pipeTo job (it reports ECANCELED); false when it already finished. */
  pipeToCancel(id: number): boolean;
  /** A CLOEXEC pipe [read, write] (size > 0: F_SETPIPE_SZ), or -errno. JS owns both ends. */
  makePipe(size?: number): [number, number] | number;
  timerCancel(id: number): boolean;

  // ---- node:child_process facade (lib/child_process)
  /** An AF_UNIX stream socketpair, both ends CLOEXEC: [a, b], or -errno. */
  socketpair(): [number, number] | number;
  /**
   * spawnSync's loop: writes `input` to fds[0] (then closes it), drains fds[1] and up to EOF
   * (-1: none; every fd given is taken over and closed) into output[i] (null for -1 and for
   * output[0]). Calls onLimit('timeout') once when timeoutMs (-1: none) passes and
   * onLimit('maxBuffer') once when one stream holds more than maxBuffer bytes (-1: none),
   * synchronously, then keeps draining.
   */
  /** Clears O_NONBLOCK on fd's open file description: 0 or -errno. */
  setBlocking(fd: number): number;
  collectSync(
    fds: number[],
    input: Buffer | undefined,
    timeoutMs: number,
    maxBuffer: number,
    onLimit: (reason: 'timeout' | 'maxBuffer') => void,
  ): { output: (Buffer | null)[]; errno: number };

  // ---- scheduling (lib/sched). `id` is a pid or a native tid; 0 means the calling thread.
  // Getters return the value or { errno, syscall }; setters return 0 or { errno, syscall }.
  /** Configured CPUs (sysconf _SC_NPROCESSORS_CONF). */
  cpuCount(): number;
  /** Online CPU ids, from /sys/devices/system/cpu/online (sorted). */
  onlineCpus(): number[];
  /** gettid() of the calling thread; on macOS pthread_threadid_np. */
  gettid(): number;
  /** sched_getcpu() of the calling thread, or { errno } where unsupported. */
  currentCpu(): number | NativeSchedError;
  getAffinity(id: number): number[] | NativeSchedError;
  /** ourThread: the id must be a registered thread of this process (see registerThread). */
  setAffinity(id: number, cpus: number[], ourThread: boolean): 0 | NativeSchedError;
  getScheduler(
    id: number,
  ): { policy: NativePolicy; priority: number; resetOnFork: boolean } | NativeSchedError;
  setScheduler(
    id: number,
    policy: NativePolicy,
    priority: number,
    resetOnFork: boolean,
    ourThread: boolean,
  ): 0 | NativeSchedError;
  getNice(id: number): number | NativeSchedError;
  setNice(id: number, nice: number, ourThread: boolean): 0 | NativeSchedError;
  /** sched_get_priority_min/max for the policy. */
  priorityRange(policy: NativePolicy): [number, number];
  /** prlimit64(id, resource): [soft, hard], -1 meaning unlimited. id 0: this process. */
  getRlimit(id: number, resource: NativeRlimit): [number, number] | NativeSchedError;
  setRlimit(id: number, resource: NativeRlimit, soft: number, hard: number): 0 | NativeSchedError;
  /** The settings children are reset to unless inheritScheduling: captured at first load. */
  baseline(): {
    affinity: number[];
    policy: NativePolicy;
    priority: number;
    nice: number;
  };

  // ---- threads (lib/thread)
  /**
   * Registers the calling thread (by tid) as one of ours until its environment is torn down,
   * so setAffinity/setScheduler/setNice with ourThread=true can never reach a recycled tid.
   * Returns the tid.
   */
  registerThread(): number;
  /** prctl(PR_SET_NAME) on the calling thread (truncated to 15 bytes by the kernel). */
  setThreadName(name: string): 0 | NativeSchedError;
  /** The calling thread's stack size in bytes, from pthread_getattr_np. */
  threadStackSize(): number | NativeSchedError;

  // ---- realtime (lib/thread/clock.ts, lib/thread/periodic.ts, lib/sched/memory.ts,
  // lib/sched/deadline.ts). Linux; macOS answers { errno: ENOTSUP }.
  /** CLOCK_MONOTONIC in ns. */
  monotonicNs(): bigint;
  /** clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) to deadlineNs; the lateness in ns. */
  sleepUntil(deadlineNs: bigint | number): number | NativeSchedError;
  /**
   * Sleeps until state[0], then state[0] += state[1], state[2] += 1 and, when state[3] is 1,
   * skips deadlines already past (counting them in state[4]); the lateness in ns.
   */
  sleepPeriod(state: BigInt64Array): number | NativeSchedError;
  /**
   * mlockall(MCL_CURRENT | MCL_FUTURE [| MCL_ONFAULT]) after guarding V8's madvise import;
   * { errno: ENOTSUP, syscall: 'madvise' } when it cannot be guarded (nothing locked).
   */
  lockMemory(onFault: boolean): 0 | NativeSchedError;
  /** munlockall(). */
  unlockMemory(): 0 | NativeSchedError;
  /** Touches up to `bytes` of the calling thread's stack; the bytes touched. */
  prefaultStack(bytes: number): number;
  /** sched_setattr(SCHED_DEADLINE); flags: SCHED_FLAG_RESET_ON_FORK when resetOnFork. */
  setDeadline(
    id: number,
    runtimeNs: number,
    deadlineNs: number,
    periodNs: number,
    resetOnFork: boolean,
    ourThread: boolean,
  ): 0 | NativeSchedError;
  /** sched_getattr(id): deadline true when SCHED_DEADLINE, with its parameters. */
  getDeadline(id: number):
    | {
        deadline: boolean;
        runtimeNs: number;
        deadlineNs: number;
        periodNs: number;
        resetOnFork: boolean;
      }
    | NativeSchedError;
}

/** The addon file in use: worker bootstraps load the same file (see lib/thread). */
function addonFile(): string {
  const require = createRequire(import.meta.url);
  const explicit = process.env.CORE_PROCESS_ADDON;
  // A path, never a module name: relative to the working directory, as a user would mean it.
  if (explicit) return path.resolve(explicit);
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  return nodeGypBuild.resolve(fileURLToPath(new URL('..', import.meta.url)));
}

export const addonPath: string = addonFile();

function load(): NativeBinding {
  return createRequire(import.meta.url)(addonPath) as NativeBinding;
}

export const native: NativeBinding = load();

export function isSpawnError(v: NativeChild | NativeSpawnError): v is NativeSpawnError {
  return typeof (v as NativeSpawnError).errno === 'number';
}
