/**
 * pipeline(): children piped to children in the kernel, as a shell's `a | b | c`. The parent
 * makes each pipe and hands its ends to the two neighbours (stdout -> stdin); no byte passes
 * through JS except the last member's output, which is collected as run() does. The whole
 * line is one process group led by the first member, so one signal stops it all; with
 * containment 'cgroup' it is also one fresh cgroup v2, which no member's descendant can leave
 * (setsid included), and the line's stops signal that cgroup. The result
 * has every member's status (pipefail: the line fails when any member does), the shell's
 * exit code for each (128 + signal for a signalled member: SIGPIPE is 141, as in sh), and
 * names the member that failed first.
 */
import { closeSync } from 'node:fs';
import { errnoName, invalid, ProcessError } from '../errors.js';
import { native } from '../native.js';
import { type ChildCgroup, createChildCgroup } from './cgroup.js';
import type { ProcessHandle } from './handle.js';
import { type SpawnOptions, type StdioSpec, warnNoCgroup } from './options.js';
import { checkPipeSize } from './pipe-size.js';
import { type SignalName, signalNumber } from './signals.js';
import { spawnChild } from './spawn.js';
import { describeStatus, type ExitStatus } from './status.js';

/**
 * One member of a pipeline: what spawn() takes, minus what the line owns (stdin, stdout,
 * process group, session, abort signal). `timeout`/`killSignal`/`killGrace` here stop this
 * member only; the same options on pipeline() stop the whole line.
 */
export interface PipeMember
  extends Omit<
    SpawnOptions,
    'stdin' | 'stdout' | 'processGroup' | 'newSession' | 'signal' | 'containment' | 'pipeSize'
  > {}

/** Settings for every member (a member's own field wins), plus the line's own options. */
export interface PipelineOptions
  extends Pick<
    SpawnOptions,
    | 'cwd'
    | 'env'
    | 'clearEnv'
    | 'affinity'
    | 'scheduler'
    | 'nice'
    | 'rlimits'
    | 'uid'
    | 'gid'
    | 'inheritScheduling'
    | 'dieWithParent'
    | 'stderr'
    | 'forceClone'
  > {
  /** Written to the first member's stdin, which is then closed. Else stdin (default 'null'). */
  input?: string | Uint8Array;
  /** The first member's stdin when there is no `input`: 'null' (default), 'inherit', a file, an fd. */
  stdin?: StdioSpec;
  /**
   * The last member's stdout. 'pipe' (default): collected into the result (maxBuffer,
   * encoding); anything else spawn() takes ('inherit', { file }, { fd }, { onread }).
   */
  stdout?: StdioSpec;
  /** Milliseconds until the whole line is sent killSignal (then SIGKILL after killGrace). */
  timeout?: number;
  killSignal?: SignalName;
  killGrace?: number;
  /** Aborting stops the whole line, as a timeout does. */
  signal?: AbortSignal;
  /**
   * What the line's stops reach. 'group' (default): the line's process group, which a
   * member's descendant can leave with setsid. 'cgroup': every member joins one fresh cgroup
   * v2 before exec, so everything the line ever forks is stopped with it (SIGKILL through
   * cgroup.kill), and the line resolves only once that cgroup is empty after a stop; the
   * directory is removed once empty. Falls back to 'group' with a warning, as spawn() does,
   * where no writable cgroup v2 exists. Per member it is refused: one line is one tree.
   */
  containment?: 'group' | 'cgroup';
  /** When a member fails (not counting SIGPIPE), stop the rest of the line at once. */
  killOnFailure?: boolean;
  /** Capacity of each pipe between members, and of the collected stdout pipe. */
  pipeSize?: number;
  /** Bytes of collected stdout (and of each member's stderr) before the line is stopped; default 100 MiB. */
  maxBuffer?: number;
  encoding?: BufferEncoding | 'buffer';
  /** false: resolve with the statuses instead of rejecting when the line fails. */
  reject?: boolean;
  /**
   * Called once every member has started, with their handles in line order: to watch pids,
   * or to resume() the last member's stdout after an onread callback returned false.
   */
  onSpawn?: (members: readonly ProcessHandle[]) => void;
}

export interface PipeMemberResult<T extends string | Buffer = string> {
  command: string;
  args: readonly string[];
  pid: number;
  status: ExitStatus;
  /** What a shell would report: the exit code, or 128 + signal number (SIGPIPE: 141). */
  shellCode: number;
  /** This member's stderr when it was collected ('pipe', the default), else empty. */
  stderr: T;
  timedOut: boolean;
}

export interface PipelineRun<T extends string | Buffer = string> {
  /** The last member's stdout (when collected). */
  stdout: T;
  members: PipeMemberResult<T>[];
  /** pipefail: the rightmost non-zero shellCode, 0 when every member succeeded (bash). */
  code: number;
  /** Index of the member whose failure was seen first (the likely cause), or null. */
  failed: number | null;
  /** The process group of the whole line (the first member's pid). */
  pgid: number;
  /** 'cgroup' when the line ran in a cgroup of its own; 'group' otherwise (or after a fallback). */
  containment: 'group' | 'cgroup';
  /** The line's cgroup v2 directory (removed once empty), or null. */
  cgroupPath: string | null;
  timedOut: boolean;
  aborted: boolean;
}

const DEFAULT_MAX_BUFFER = 100 * 1024 * 1024;
const LINE_KEYS = [
  'input',
  'stdin',
  'stdout',
  'timeout',
  'killSignal',
  'killGrace',
  'signal',
  'killOnFailure',
  'containment',
  'pipeSize',
  'maxBuffer',
  'encoding',
  'reject',
  'onSpawn',
] as const;

function shellCode(s: ExitStatus): number {
  if (s.signal !== null) return 128 + signalNumber(s.signal as SignalName);
  return s.code ?? 0;
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed by a failed spawn's cleanup: nothing else to do
  }
}

interface Sink {
  chunks: Buffer[];
  bytes: number;
}

function collect(
  stream: NodeJS.ReadableStream | null,
  sink: Sink,
  max: number,
  onOverflow: () => void,
): Promise<void> {
  if (stream === null) return Promise.resolve();
  return new Promise((resolve) => {
    stream.on('data', (chunk: Buffer) => {
      if (sink.bytes + chunk.length > max) {
        sink.chunks.push(chunk.subarray(0, max - sink.bytes));
        sink.bytes = max;
        onOverflow();
        return;
      }
      sink.chunks.push(chunk);
      sink.bytes += chunk.length;
    });
    stream.on('error', () => resolve());
    stream.on('close', () => resolve());
  });
}

function checkMembers(members: unknown): PipeMember[] {
  if (!Array.isArray(members) || members.length === 0) {
    throw invalid('pipeline', members, 'must be a non-empty array of { program, args? }');
  }
  return members.map((m, i) => {
    if (m === null || typeof m !== 'object') {
      throw invalid(`pipeline[${i}]`, m, 'must be an object with at least { program }');
    }
    for (const key of ['stdin', 'stdout', 'processGroup', 'newSession', 'signal', 'containment']) {
      if (key in m) {
        throw invalid(
          `pipeline[${i}].${key}`,
          (m as Record<string, unknown>)[key],
          key === 'containment'
            ? 'is set for the whole line (pipeline options): one line is one tree, in one group or one cgroup'
            : 'is set by the pipeline',
        );
      }
    }
    return m as PipeMember;
  });
}

/**
 * Runs `a | b | c`: each member's stdout feeds the next one's stdin through a pipe the kernel
 * moves, the line is one process group, and the result carries every status (pipefail).
 * Rejects a ProcessError naming the member that failed first (NonZeroExit,
 * TerminatedBySignal, TimedOut) unless `reject: false`; spawn failures reject at once, after
 * stopping the members already started.
 * @example
 * const r = await pipeline([{ program: 'printf', args: ['b\na\n'] }, { program: 'sort' }]);
 * r.stdout; // 'a\nb\n'
 * const { members } = await pipeline(
 *   [{ program: 'yes' }, { program: 'head', args: ['-n', '1'] }],
 *   { reject: false },
 * );
 * members[0].status.signal; // 'SIGPIPE' (shellCode 141), as in sh
 * // One cgroup for the line: the timeout also stops the grandchild that called setsid.
 * await pipeline(
 *   [{ program: 'sh', args: ['-c', 'setsid sleep 60 & exec sleep 60'] }, { program: 'cat' }],
 *   { containment: 'cgroup', timeout: 500, reject: false },
 * ); // { timedOut: true, containment: 'cgroup', cgroupPath: '/sys/fs/cgroup/unified/core-process.…', … }
 */
export async function pipeline(
  members: readonly PipeMember[],
  options?: PipelineOptions & { encoding: 'buffer' },
): Promise<PipelineRun<Buffer>>;
export async function pipeline(
  members: readonly PipeMember[],
  options?: PipelineOptions,
): Promise<PipelineRun<string>>;
export async function pipeline(
  membersIn: readonly PipeMember[],
  options: PipelineOptions = {},
): Promise<PipelineRun<string | Buffer>> {
  const members = checkMembers(membersIn);
  if (options === null || typeof options !== 'object') {
    throw invalid('pipeline options', options, 'must be an object');
  }
  const maxBuffer = options.maxBuffer ?? DEFAULT_MAX_BUFFER;
  if (typeof maxBuffer !== 'number' || !(maxBuffer > 0)) {
    throw invalid('maxBuffer', maxBuffer, 'must be a number of bytes > 0');
  }
  const encoding = options.encoding ?? 'utf8';
  if (encoding !== 'buffer' && !Buffer.isEncoding(encoding)) {
    throw invalid('encoding', encoding, "must be 'buffer' or a Node text encoding");
  }
  const killSignal = options.killSignal ?? 'SIGTERM';
  signalNumber(killSignal, 'killSignal');
  const killGrace = options.killGrace ?? 2000;
  if (typeof killGrace !== 'number' || !(killGrace >= 0)) {
    throw invalid('killGrace', killGrace, 'must be a number of milliseconds >= 0');
  }
  const timeout = options.timeout;
  if (
    timeout !== undefined &&
    (typeof timeout !== 'number' || !(timeout >= 0 && timeout <= 0x7fffffff))
  ) {
    throw invalid('timeout', timeout, 'must be a number of milliseconds in 0..2147483647');
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalid('signal', options.signal, 'must be an AbortSignal');
  }
  const pipeSize = checkPipeSize(options.pipeSize);
  if (options.onSpawn !== undefined && typeof options.onSpawn !== 'function') {
    throw invalid('onSpawn', options.onSpawn, 'must be a function');
  }
  const containment = options.containment ?? 'group';
  if (containment !== 'group' && containment !== 'cgroup') {
    throw invalid(
      'containment',
      containment,
      "must be 'group' or 'cgroup' (a line is always at least one process group)",
    );
  }
  if (containment === 'cgroup') {
    // Checked before the cgroup exists, so a refused line leaves no directory behind.
    for (const [i, m] of members.entries()) {
      if (m.limits !== undefined) {
        throw invalid(
          `pipeline[${i}].limits`,
          m.limits,
          "cannot be set per member with containment 'cgroup': the line shares one cgroup",
        );
      }
    }
  }
  const shared: Record<string, unknown> = { ...options };
  for (const key of LINE_KEYS) delete shared[key];
  const collectOut = (options.stdout ?? 'pipe') === 'pipe';

  // Last, after every check: the only step here with a side effect (a new directory).
  let cg: ChildCgroup | null = null;
  if (containment === 'cgroup') {
    cg = createChildCgroup();
    if (cg === null) warnNoCgroup();
  }
  // Spawn left to right: every member but the first joins the first one's group, which
  // exists until it is reaped, and nothing is reaped before this synchronous loop ends.
  // With a cgroup, each also joins it before exec (through its fd, like spawn()'s own).
  const handles: ProcessHandle[] = [];
  const open = new Set<number>();
  let pgid = 0;
  let nextStdin: StdioSpec = options.input !== undefined ? 'pipe' : (options.stdin ?? 'null');
  try {
    for (const [i, member] of members.entries()) {
      const last = i === members.length - 1;
      let stdout: StdioSpec;
      let readEnd = -1;
      if (last) {
        stdout = options.stdout ?? 'pipe';
      } else {
        const p = native.makePipe(pipeSize ?? 0);
        if (typeof p === 'number') {
          const code = errnoName(-p);
          throw new ProcessError(
            'SpawnFailed',
            `pipeline: cannot make the pipe after member ${i}: ${code}`,
            {
              code,
              errno: -p,
              syscall: 'pipe2',
            },
          );
        }
        open.add(p[0]);
        open.add(p[1]);
        readEnd = p[0];
        stdout = { fd: p[1] };
      }
      const { timeout: _t, killSignal: _k, killGrace: _g, ...own } = member;
      const handle = spawnChild(
        {
          ...(shared as Partial<SpawnOptions>),
          ...own,
          stdin: nextStdin,
          stdout,
          stderr: member.stderr ?? options.stderr ?? 'pipe',
          processGroup: i === 0 ? true : pgid,
          ...(last && pipeSize !== undefined ? { pipeSize } : {}),
        } as SpawnOptions,
        cg ?? undefined,
      );
      handles.push(handle);
      if (i === 0) pgid = handle.pid;
      // The children hold their ends now; ours would keep EOF from ever coming. Only the
      // pipes we made: a caller's { fd } for stdin or stdout stays the caller's.
      for (const spec of [stdout, nextStdin]) {
        if (typeof spec === 'object' && 'fd' in spec && open.delete(spec.fd)) {
          closeQuietly(spec.fd);
        }
      }
      nextStdin = { fd: readEnd };
    }
  } catch (error) {
    for (const fd of open) closeQuietly(fd);
    // Through the cgroup first: a started member may already have forked.
    cg?.signal('SIGKILL');
    for (const h of handles) h.kill('SIGKILL');
    await Promise.all(handles.map((h) => h.exited));
    cg?.removeWhenEmpty();
    throw error;
  }
  // Every member has joined (or never will): the directory fd has served its purpose.
  cg?.releaseFd();

  const first = handles[0] as ProcessHandle;
  const last = handles[handles.length - 1] as ProcessHandle;
  // The whole line: its cgroup (everything any member forked), else its process group.
  const signalLine = (sig: SignalName) => {
    if (cg !== null) cg.signal(sig);
    else first.killGroup(sig);
  };
  const lineAlive = () => handles.some((h) => h.running) || (cg?.populated() ?? false);
  if (options.onSpawn !== undefined) {
    try {
      options.onSpawn(handles);
    } catch (error) {
      // The caller's hook failed: it owns no handle then, so nothing may outlive this call.
      signalLine('SIGKILL');
      await Promise.all(handles.map((h) => h.exited));
      cg?.removeWhenEmpty();
      throw error;
    }
  }
  if (options.input !== undefined && first.stdin) {
    first.stdin.on('error', () => {}); // a member that exits unread: its status is the answer
    first.stdin.end(options.input);
  }

  let timedOut = false;
  let aborted = false;
  let overflow = false;
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  const memberTimedOut = handles.map(() => false);
  const stopLine = () => {
    if (!lineAlive()) return;
    stopped = true;
    signalLine(killSignal);
    if (killSignal !== 'SIGKILL') {
      timers.push(
        setTimeout(() => {
          if (lineAlive()) signalLine('SIGKILL');
        }, killGrace),
      );
    }
  };
  if (timeout !== undefined) {
    timers.push(
      setTimeout(() => {
        timedOut = true;
        stopLine();
      }, timeout),
    );
  }
  const onAbort = () => {
    aborted = true;
    stopLine();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  // A member's own timeout stops that member only, as `timeout 5 cmd` inside a shell line.
  for (const [i, member] of members.entries()) {
    if (member.timeout === undefined) continue;
    const h = handles[i] as ProcessHandle;
    const sig = member.killSignal ?? 'SIGTERM';
    timers.push(
      setTimeout(() => {
        if (!h.running) return;
        memberTimedOut[i] = true;
        h.kill(sig);
        timers.push(
          setTimeout(() => {
            if (h.running) h.kill('SIGKILL');
          }, member.killGrace ?? 2000),
        );
      }, member.timeout),
    );
  }

  // Failures in the order the exits were seen, SIGPIPE deaths ranked last: a member killed
  // by SIGPIPE only shows that the one after it stopped reading (in `tar | zstd | ssh` a dead
  // ssh takes the others down), so the first other failure is the likely cause.
  const failOrder: number[] = [];
  const exits = handles.map((h, i) =>
    h.exited.then((status) => {
      if (shellCode(status) !== 0) {
        failOrder.push(i);
        if (options.killOnFailure && status.signal !== 'SIGPIPE') stopLine();
      }
      return status;
    }),
  );
  const out: Sink = { chunks: [], bytes: 0 };
  const errs: Sink[] = handles.map(() => ({ chunks: [], bytes: 0 }));
  const onOverflow = () => {
    if (overflow) return;
    overflow = true;
    stopLine();
  };
  const reading: Promise<void>[] = [];
  if (collectOut) reading.push(collect(last.stdout, out, maxBuffer, onOverflow));
  handles.forEach((h, i) => {
    reading.push(collect(h.stderr, errs[i] as Sink, maxBuffer, onOverflow));
  });
  // A grandchild holding a pipe open must not keep a stopped line waiting.
  const statuses = await Promise.all(exits);
  if (cg !== null && stopped) {
    // A stopped line is stopped whole: what the members forked is still being signalled
    // (and SIGKILLed after killGrace by the timer above), and the line ends when it has gone.
    // Bounded: a process stuck in the kernel (D state) ignores even SIGKILL for a while.
    const giveUp = Date.now() + killGrace + 10_000;
    while (cg.populated() && Date.now() < giveUp) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  // Removed now when nothing is left; else once a member's leftover descendant has exited.
  cg?.removeWhenEmpty();
  if (timedOut || aborted || overflow) {
    for (const h of handles) {
      h.stdout?.destroy();
      h.stderr?.destroy();
    }
  }
  await Promise.all(reading);
  for (const t of timers) clearTimeout(t);
  options.signal?.removeEventListener('abort', onAbort);

  const decode = (s: Sink): string | Buffer => {
    const buf = Buffer.concat(s.chunks);
    return encoding === 'buffer' ? buf : buf.toString(encoding);
  };
  const results: PipeMemberResult<string | Buffer>[] = handles.map((h, i) => ({
    command: h.command,
    args: h.args,
    pid: h.pid,
    status: statuses[i] as ExitStatus,
    shellCode: shellCode(statuses[i] as ExitStatus),
    stderr: decode(errs[i] as Sink),
    timedOut: memberTimedOut[i] as boolean,
  }));
  let code = 0;
  for (const r of results) if (r.shellCode !== 0) code = r.shellCode;
  const causes = failOrder.filter((i) => results[i]?.status.signal !== 'SIGPIPE');
  const failed = causes[0] ?? failOrder[0] ?? null;
  const run: PipelineRun<string | Buffer> = {
    stdout: decode(out),
    members: results,
    code,
    failed,
    pgid,
    containment: cg !== null ? 'cgroup' : 'group',
    cgroupPath: cg?.path ?? null,
    timedOut,
    aborted,
  };
  if (options.reject === false) return run;

  const line = results.map((r) => [r.command, ...r.args].join(' ')).join(' | ');
  const shown = results.map((r) => r.shellCode).join(' ');
  const details = { stdout: run.stdout, command: line };
  if (overflow) {
    throw new ProcessError(
      'TerminatedBySignal',
      `pipeline ${line}: output exceeded maxBuffer (${maxBuffer} bytes); the line was stopped (statuses ${shown})`,
      { ...details, code: 'MAXBUFFER' },
    );
  }
  if (timedOut) {
    throw new ProcessError(
      'TimedOut',
      `pipeline ${line}: timed out after ${timeout} ms and was stopped (statuses ${shown})`,
      { ...details, code: 'ETIMEDOUT' },
    );
  }
  if (aborted) {
    throw new ProcessError('TerminatedBySignal', `pipeline ${line}: aborted (statuses ${shown})`, {
      ...details,
      code: 'ABORT_ERR',
      aborted: true,
      cause: options.signal?.reason,
    });
  }
  if (failed !== null) {
    const f = results[failed] as PipeMemberResult<string | Buffer>;
    const kind = f.timedOut
      ? 'TimedOut'
      : f.status.signal !== null
        ? 'TerminatedBySignal'
        : 'NonZeroExit';
    throw new ProcessError(
      kind,
      `pipeline ${line}: member ${failed} (${f.command}) failed first: ${describeStatus(f.status)}; statuses ${shown} (pipefail ${code})`,
      { ...details, status: f.status, stderr: f.stderr, code: f.status.signal ?? code },
    );
  }
  return run;
}
