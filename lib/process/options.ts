/**
 * Spawn options: the public shape, and the one place they are validated and turned into the
 * native request. Every check runs before any syscall and names the field and the value.
 */
import path from 'node:path';
import { invalid } from '../errors.js';
import type { NativeSpawnRequest, NativeStdio } from '../native.js';
import { checkCpus } from '../sched/cpus.js';
import { checkRlimits, type Rlimits } from '../sched/rlimits.js';
import { checkNice, checkScheduler, type SchedulerSpec } from '../sched/scheduler.js';
import { type ChildCgroup, createChildCgroup } from './cgroup.js';
import { checkKnownKeys } from './keys.js';
import { checkLimits, createLimitCgroups, type LimitCgroups, type Limits } from './limits.js';
import { checkOnread, type OnreadOptions, type OnreadSpec } from './onread.js';
import { SPAWN_OPTION_KEYS } from './option-keys.js';
import { initPath, pidNamespaceUnavailable, warnNoPidNamespace } from './pidns.js';
import { checkPipeSize } from './pipe-size.js';
import { prepareSandbox, type SandboxOptions } from './sandbox.js';
import { type SignalName, signalNumber } from './signals.js';

/**
 * How one standard stream of the child is connected.
 * - 'inherit': share ours; 'null': /dev/null; 'pipe': a pipe, exposed as a Node stream;
 * - 'socketpair': a Unix stream socketpair, as node:child_process uses for 'pipe': faster for
 *   bulk output here, but the child gets ECONNRESET instead of SIGPIPE if we stop reading
 *   early, and cannot open /dev/stdout;
 * - `{ file, append? }`: a file opened for the child (created 0666 & ~umask for output,
 *   truncated unless `append`); `{ fd }`: one of our open descriptors;
 * - 'stdout' (stderr only): wherever stdout goes, as the shell's `2>&1`: one pipe carries
 *   both streams in the order the child wrote them (child.stderr is then null);
 * - `{ onread: { buffer, callback } }` (stdout, stderr): a pipe read straight into the
 *   caller's buffer, callback(nread, buffer) per read; returning false pauses (see onread.ts).
 */
export type StdioSpec =
  | 'inherit'
  | 'null'
  | 'pipe'
  | 'socketpair'
  | 'stdout'
  | { file: string; append?: boolean }
  | { fd: number }
  | OnreadSpec;

export interface SpawnOptions {
  /** The program: looked up in the child's PATH when it has no '/'. */
  program: string;
  args?: readonly string[];
  /** argv[0] as the child sees it; defaults to `program`. */
  argv0?: string;
  cwd?: string;
  /** Merged over process.env (undefined removes a variable), or the whole env with clearEnv. */
  env?: Record<string, string | undefined>;
  clearEnv?: boolean;
  stdin?: StdioSpec;
  stdout?: StdioSpec;
  stderr?: StdioSpec;
  /**
   * Descriptors for the child's fds 3, 4, ...: entry i is one of our open fds that becomes
   * the child's fd 3+i, or null to leave that fd closed. (node:child_process's stdio entries
   * beyond 2.) Only the listed fds reach the child, as always.
   */
  extraFds?: readonly (number | null)[];
  /** true: a new group led by the child (pgid = pid); a number: join that group. */
  processGroup?: boolean | number;
  /** setsid(): a new session (and group) led by the child. */
  newSession?: boolean;
  /** Milliseconds until `killSignal` is sent; then SIGKILL after `killGrace`. */
  timeout?: number;
  killSignal?: SignalName;
  /** Milliseconds between killSignal and SIGKILL on timeout or abort; default 2000. */
  killGrace?: number;
  signal?: AbortSignal;
  /** Tests and benchmarks: take the clone(CLONE_VFORK) path even when posix_spawn would do. */
  forceClone?: boolean;
  /** Online CPU ids the child may run on, set before exec (`taskset -c`). */
  affinity?: readonly number[];
  /** Policy and realtime priority, set before exec (`chrt`). */
  scheduler?: SchedulerSpec;
  /** -20..19, set before exec (`nice -n`). Below the current value needs CAP_SYS_NICE. */
  nice?: number;
  /** Resource limits, set before exec (`prlimit`). */
  rlimits?: Rlimits;
  /** Run as this user id (needs CAP_SETUID); supplementary groups are dropped when root. */
  uid?: number;
  /** Run as this group id (needs CAP_SETGID). */
  gid?: number;
  /**
   * Children do not inherit the spawning thread's pinning, policy or nice (a realtime worker
   * must not hand SCHED_FIFO to `ls`): whatever you did not set is reset to what this process
   * started with. true: inherit the calling thread's settings, as fork/exec would.
   */
  inheritScheduling?: boolean;
  /**
   * What a tree kill can reach. 'group': a new process group (escapable with setsid).
   * 'cgroup': a fresh cgroup v2 the child joins before exec, so nothing it forks can leave;
   * falls back to 'group' with a warning when no writable cgroup v2 exists. 'none' (the
   * default here): nothing beyond `processGroup`/`newSession`; it opts out where a caller
   * defaults to 'cgroup' (the supervisor, the process service).
   * 'pidns': 'cgroup' plus a PID namespace under our init, which dies with us (implies
   * dieWithParent unless false is given): the kernel then kills the whole tree at once, no
   * restart needed. Falls back to 'cgroup' with a warning where no PID namespace can be made
   * (see docs/containment.md). Without root it comes through a user namespace mapping only
   * our own ids (set-user-ID programs do not gain privilege in it).
   */
  containment?: 'none' | 'group' | 'cgroup' | 'pidns';
  /**
   * SIGKILL the child when the spawning thread dies (PR_SET_PDEATHSIG, race-checked with
   * getppid). From the main thread that is when this process dies; from a worker thread it
   * is when that worker ends.
   */
  dieWithParent?: boolean;
  /**
   * Bytes of capacity for every 'pipe' stream (F_SETPIPE_SZ, before the child runs; the
   * kernel rounds up to a power of two pages). Above /proc/sys/fs/pipe-max-size it needs
   * CAP_SYS_RESOURCE. Unset: 64 KiB, grown to 1 MiB once the child proves a bulk writer.
   */
  pipeSize?: number;
  /**
   * What the child may do after exec: no_new_privs, a network namespace, Landlock write and
   * read roots, a seccomp deny list. Implies a new session. Refused (never downgraded) with a
   * typed error naming what this kernel lacks. See docs/sandbox.md.
   */
  sandbox?: SandboxOptions;
  /**
   * Memory, process-count and CPU limits for the whole tree, through cgroups (v2 where the
   * controller is enabled, v1 otherwise), joined by the child before exec. Imply containment
   * 'cgroup'. The exit status then carries `oomKilled` and `limitsHit`.
   */
  limits?: Limits;
}

export type Containment = 'none' | 'group' | 'cgroup' | 'pidns';

export { SPAWN_OPTION_KEYS } from './option-keys.js';

/** The validated request plus what the handle needs to know about it. */
export interface PreparedSpawn {
  request: NativeSpawnRequest;
  command: string;
  args: string[];
  timeout: number | undefined;
  /** Validated: a signal name of this platform. */
  killSignal: SignalName;
  killGrace: number;
  ownGroup: boolean;
  containment: Containment;
  /** The child's fresh cgroup, for containment 'cgroup'. */
  cgroup: ChildCgroup | null;
  /**
   * True when `cgroup` is a pipeline's, shared by every member of the line: the line owns
   * its fd and its removal, so neither spawn() nor the handle releases or removes it.
   */
  cgroupShared?: boolean;
  /**
   * Caller-owned read buffers per stream ({ onread }), null where the stream has none.
   * Optional: a handle made for an adopted process (adopt.ts) has no streams of ours.
   */
  onread?: [null, OnreadOptions | null, OnreadOptions | null];
  /** The caller's pipeSize: the readers leave the pipes at that size. */
  pipeSize?: number | undefined;
  /** The cgroups carrying `limits`, read at exit and removed after it. */
  limits: LimitCgroups | null;
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;

let warned = false;
/** Once per process: containment 'cgroup' was asked for and falls back to 'group'. */
export function warnNoCgroup(): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    "containment 'cgroup' is not available here (no writable cgroup v2 directory); using 'group', which a child can leave with setsid",
    { type: 'CoreProcessWarning', code: 'CORE_PROCESS_NO_CGROUP' },
  );
}
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

function checkString(field: string, value: unknown, allowEmpty = false): string {
  if (typeof value !== 'string') throw invalid(field, value, 'must be a string');
  if (!allowEmpty && value.length === 0) throw invalid(field, value, 'must not be empty');
  if (value.includes('\0')) throw invalid(field, value, 'must not contain a NUL byte');
  return value;
}

function checkMs(field: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  // Node timers fire after 1 ms for anything above 2^31-1: refuse instead of killing early.
  if (typeof value !== 'number' || !(value >= 0 && value <= 0x7fffffff)) {
    throw invalid(field, value, 'must be a number of milliseconds in 0..2147483647');
  }
  return value;
}

function stdioFor(field: string, spec: unknown): NativeStdio {
  switch (spec) {
    case undefined:
    case 'inherit':
      return 0;
    case 'null':
      return 1;
    case 'pipe':
      return 2;
    case 'socketpair':
      return 3;
    case 'stdout':
      if (field !== 'stderr') throw invalid(field, spec, "'stdout' is a stderr spec only");
      return 6;
  }
  if (spec !== null && typeof spec === 'object') {
    const o = spec as Record<string, unknown>;
    if ('fd' in o) {
      // The kernel's fds are ints; the addon refuses more too, but the message belongs here.
      if (!Number.isInteger(o.fd) || (o.fd as number) < 0 || (o.fd as number) > 0x7fffffff) {
        throw invalid(`${field}.fd`, o.fd, 'must be an open file descriptor number >= 0');
      }
      return { fd: o.fd as number };
    }
    if ('onread' in o) {
      checkOnread(field, o);
      return 2; // a plain pipe; the handle reads it into the caller's buffer
    }
    if ('file' in o) {
      const file = checkString(`${field}.file`, o.file);
      return { file: path.resolve(file), append: o.append === true };
    }
  }
  throw invalid(
    field,
    spec,
    "is not a stdio spec: use 'inherit', 'null', 'pipe', 'socketpair', 'stdout' (stderr), { file, append? }, { fd } or { onread }",
  );
}

function buildEnv(options: SpawnOptions): { env?: string[]; searchPath: string } {
  const overrides = options.env;
  if (
    overrides !== undefined &&
    (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))
  ) {
    throw invalid('env', overrides, 'must be an object of strings');
  }
  if (!options.clearEnv && overrides === undefined) {
    return { searchPath: process.env.PATH ?? DEFAULT_PATH };
  }
  const merged: Record<string, string | undefined> = options.clearEnv ? {} : { ...process.env };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (key.length === 0 || key.includes('=') || key.includes('\0')) {
      throw invalid('env key', key, "must be non-empty without '=' or NUL");
    }
    if (value === undefined) {
      delete merged[key];
      continue;
    }
    checkString(`env.${key}`, value, true);
    merged[key] = value;
  }
  const env: string[] = [];
  for (const [key, value] of Object.entries(merged)) {
    if (value !== undefined) env.push(`${key}=${value}`);
  }
  return { env, searchPath: merged.PATH ?? DEFAULT_PATH };
}

function checkIdNumber(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xfffffffe) {
    throw invalid(field, v, 'must be a numeric id (an integer in 0..4294967294)');
  }
  return v;
}

type SchedulingRequest = Pick<
  NativeSpawnRequest,
  'affinity' | 'scheduler' | 'nice' | 'rlimits' | 'uid' | 'gid' | 'inheritScheduling'
>;

function schedulingRequest(options: SpawnOptions): SchedulingRequest {
  const out: SchedulingRequest = { inheritScheduling: options.inheritScheduling === true };
  if (options.inheritScheduling !== undefined && typeof options.inheritScheduling !== 'boolean') {
    throw invalid('inheritScheduling', options.inheritScheduling, 'must be a boolean');
  }
  if (options.affinity !== undefined) out.affinity = checkCpus('affinity', options.affinity);
  if (options.scheduler !== undefined)
    out.scheduler = checkScheduler('scheduler', options.scheduler);
  if (options.nice !== undefined) out.nice = checkNice('nice', options.nice);
  if (options.rlimits !== undefined) out.rlimits = checkRlimits('rlimits', options.rlimits);
  if (options.uid !== undefined) out.uid = checkIdNumber('uid', options.uid);
  if (options.gid !== undefined) out.gid = checkIdNumber('gid', options.gid);
  return out;
}

/**
 * Validates spawn options into the native request. `lineCgroup` (internal, for pipeline()):
 * the child joins that existing cgroup instead of a fresh one, keeping the process group it
 * was given; the caller owns the cgroup's fd and its removal.
 * @example
 * const { request } = prepareSpawn({ program: 'true' }); // request.argv: ['true']
 */
export function prepareSpawn(options: SpawnOptions, lineCgroup?: ChildCgroup): PreparedSpawn {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalid('options', options, 'must be an object with at least { program }');
  }
  // First: a typo'd option (a security one above all) must never be silently ignored.
  checkKnownKeys(options, SPAWN_OPTION_KEYS, 'spawn option');
  const program = checkString('program', options.program);
  const rawArgs: unknown = options.args ?? [];
  if (!Array.isArray(rawArgs)) throw invalid('args', rawArgs, 'must be an array of strings');
  // Array.from, not map: map skips the holes of a sparse array, which would reach the addon.
  const args = Array.from(rawArgs, (a, i) => checkString(`args[${i}]`, a, true));
  const argv0 = options.argv0 === undefined ? program : checkString('argv0', options.argv0, true);
  const cwd = options.cwd === undefined ? undefined : path.resolve(checkString('cwd', options.cwd));

  const stdio = STREAMS.map((s) => stdioFor(s, options[s])) as [
    NativeStdio,
    NativeStdio,
    NativeStdio,
  ];

  let pgid = -1;
  const group = options.processGroup;
  if (group === true) {
    pgid = 0;
  } else if (typeof group === 'number') {
    // Pids are ints; the addon refuses more too, but the message belongs here.
    if (!Number.isInteger(group) || group <= 0 || group > 0x7fffffff) {
      throw invalid('processGroup', group, 'must be true or an existing process group id > 0');
    }
    pgid = group;
  } else if (group !== undefined && group !== false) {
    throw invalid('processGroup', group, 'must be a boolean or a process group id');
  }
  for (const key of ['clearEnv', 'newSession', 'forceClone'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw invalid(key, options[key], 'must be a boolean');
    }
  }
  // Before anything that could depend on it: a sandbox implies a session of its own (a
  // child sharing our terminal's session could push input into it with TIOCSTI).
  const sandbox = prepareSandbox(options.sandbox);
  const setsid = options.newSession === true || sandbox !== undefined;
  if (setsid && pgid > 0) {
    throw invalid(
      'processGroup',
      group,
      'cannot join an existing group together with newSession (the child leads a new group)',
    );
  }

  const timeout = checkMs('timeout', options.timeout);
  const killGrace = checkMs('killGrace', options.killGrace) ?? 2000;
  const killSignal = options.killSignal ?? 'SIGTERM';
  signalNumber(killSignal, 'killSignal'); // throws InvalidCommand naming the field
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalid('signal', options.signal, 'must be an AbortSignal');
  }

  const limits = checkLimits(options.limits);
  let asked = options.containment;
  if (
    asked !== undefined &&
    asked !== 'none' &&
    asked !== 'group' &&
    asked !== 'cgroup' &&
    asked !== 'pidns'
  ) {
    throw invalid('containment', asked, "must be 'none', 'group', 'cgroup' or 'pidns'");
  }
  if (limits !== undefined) {
    // A limit on a tree that can leave its cgroup would be no limit: limits imply containment.
    if (asked === 'none' || asked === 'group') {
      throw invalid('containment', asked, "cannot be weaker than 'cgroup' together with limits");
    }
    if (asked !== 'pidns') asked = 'cgroup';
  }
  if (asked === 'pidns' && lineCgroup === undefined) {
    const why = pidNamespaceUnavailable();
    if (why !== null) {
      warnNoPidNamespace(why);
      asked = 'cgroup';
    }
  }
  const inPidns = asked === 'pidns' || options.sandbox?.pidNamespace === true;
  const containment = asked === 'none' ? undefined : asked;
  if (lineCgroup !== undefined && (containment !== undefined || limits !== undefined)) {
    // A pipeline member joins the line's cgroup: one line is one tree, with one boundary.
    const field = limits !== undefined ? 'limits' : 'containment';
    throw invalid(
      field,
      limits !== undefined ? options.limits : asked,
      "cannot be set per member of a pipeline with containment 'cgroup' (the line shares one cgroup)",
    );
  }
  if (containment !== undefined && pgid > 0) {
    throw invalid(
      'processGroup',
      group,
      'cannot join an existing group with containment (the child leads its own)',
    );
  }
  if (containment !== undefined && !setsid) pgid = 0;
  let dieWithParent = options.dieWithParent;
  if (dieWithParent !== undefined && typeof dieWithParent !== 'boolean') {
    throw invalid('dieWithParent', dieWithParent, 'must be a boolean');
  }
  // The point of 'pidns': the init dies with us, and the kernel kills its namespace.
  if (containment === 'pidns') dieWithParent ??= true;

  const pipeSize = checkPipeSize(options.pipeSize);
  const onreadOf = (s: 'stdout' | 'stderr') => {
    const spec = options[s];
    return spec !== null && typeof spec === 'object' && 'onread' in spec ? spec.onread : null;
  };
  let extraFds: number[] | undefined;
  if (options.extraFds !== undefined) {
    if (!Array.isArray(options.extraFds) || options.extraFds.length > 1024) {
      throw invalid('extraFds', options.extraFds, 'must be an array of at most 1024 fds or nulls');
    }
    extraFds = Array.from(options.extraFds as unknown[], (fd, i) => {
      if (fd === null) return -1;
      if (!Number.isInteger(fd) || (fd as number) < 0 || (fd as number) > 0x7fffffff) {
        throw invalid(`extraFds[${i}]`, fd, 'must be an open file descriptor number >= 0 or null');
      }
      return fd as number;
    });
  }

  const { env, searchPath } = buildEnv(options);
  const sched = schedulingRequest(options);
  const request: NativeSpawnRequest = {
    file: program,
    searchPath,
    argv: [argv0, ...args],
    stdio,
    pgid,
    setsid,
    forceClone: options.forceClone === true,
    ...sched,
  };
  if (env !== undefined) request.env = env;
  if (extraFds !== undefined && extraFds.length > 0) request.extraFds = extraFds;
  if (cwd !== undefined) request.cwd = cwd;
  if (dieWithParent === true) request.deathSignal = signalNumber('SIGKILL');
  if (pipeSize !== undefined) request.pipeSize = pipeSize;
  if (sandbox !== undefined) request.sandbox = sandbox;
  const init = inPidns ? initPath() : null;
  if (init !== null) {
    request.pidNamespace = { init, mountProc: options.sandbox?.pidNamespace === true };
  }
  // Last, after every check: the only step here with a side effect (a new directory).
  let cgroup: ChildCgroup | null = null;
  if (lineCgroup !== undefined) {
    cgroup = lineCgroup;
    request.cgroupFd = lineCgroup.fd;
  } else if (containment === 'cgroup' || containment === 'pidns') {
    cgroup = createChildCgroup();
    // A PID namespace alone still takes the whole tree down when the child dies.
    if (cgroup === null && containment === 'cgroup') warnNoCgroup();
    else if (cgroup !== null) request.cgroupFd = cgroup.fd;
  }
  let limitGroups: LimitCgroups | null = null;
  if (limits !== undefined) {
    try {
      limitGroups = createLimitCgroups(limits, cgroup);
    } catch (e) {
      cgroup?.remove();
      throw e;
    }
    const fds = limitGroups.fds;
    if (fds.length > 0) request.limitCgroupFds = fds;
  }
  return {
    request,
    command: program,
    args,
    timeout,
    killSignal,
    killGrace,
    ownGroup: setsid || pgid === 0,
    containment:
      containment === 'pidns'
        ? 'pidns'
        : cgroup !== null
          ? 'cgroup'
          : containment === undefined
            ? 'none'
            : 'group',
    cgroup,
    cgroupShared: lineCgroup !== undefined,
    onread: [null, onreadOf('stdout'), onreadOf('stderr')],
    pipeSize,
    limits: limitGroups,
  };
}
