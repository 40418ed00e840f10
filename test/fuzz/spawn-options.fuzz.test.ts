// Property-based fuzzing of spawn() option validation. Every SpawnOptions field gets a mix of
// valid values (harmless ones, and ones the kernel refuses or that kill the child) and hostile
// ones. For each generated options object spawn() must either return a handle whose exit
// status is consistent (and, when every value is harmless, exactly what the program does), or
// throw a ProcessError of a documented kind: bad input is refused as InvalidCommand naming a
// field it got wrong, before native.spawn is called; well-formed input is never called
// invalid. After the run: no live or zombie children, no fd growth, no cgroup left behind, no
// process warnings (a TimeoutOverflowWarning meant a child killed at once).
//
// FUZZ_RUNS=<n> sets the number of cases, FUZZ_SEED=<n> the seed; a failure prints both.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { ProcessError, type ProcessErrorKind } from '../../lib/errors.js';
import { native } from '../../lib/native.js';
import { cgroupBase } from '../../lib/process/cgroup.js';
import type { ProcessHandle } from '../../lib/process/handle.js';
import { spawn } from '../../lib/process/spawn.js';
import type { ExitStatus } from '../../lib/process/status.js';
import { onlineCpus } from '../../lib/sched/cpus.js';
import { RLIMIT_NAMES } from '../../lib/sched/rlimits.js';
import { eventually, fdsOf, liveChildren, tempDir, zombieChildren } from '../helpers.js';
import { asRoot } from '../optional.js';
import { PROCESS_KINDS } from './kinds.js';

const { itRoot } = asRoot('the spawn options fuzz (realtime, ids and cgroups in its clean cases)');

/** Cases: with the actions fuzz's 40,000, the 100,000 the CI run asks for. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 60_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);
/** A child still running this long after spawn is killed (and the case checked as killed). */
const BOUND_MS = 3000;

const KINDS = PROCESS_KINDS;
/** What a spawn of well-formed options may fail with: the kernel's answer, never bad input. */
const RUNTIME_KINDS = new Set<ProcessErrorKind>([
  'NotFound',
  'PermissionDenied',
  'SpawnFailed',
  'Unsupported',
]);

/** Cheap assertion for the hot path (vitest's expect costs more than a refused spawn). */
function must(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** A SCHED_IDLE child runs only when nothing else wants a CPU: on a loaded machine, never. */
function starvable(o: Record<string, unknown>): boolean {
  const sched = o.scheduler as { policy?: unknown } | undefined;
  return typeof sched === 'object' && sched !== null && sched.policy === 'idle';
}

/** The exit status, or null once the child has run BOUND_MS by the clock. */
async function boundedByClock(h: ProcessHandle): Promise<ExitStatus | null> {
  let timer: NodeJS.Timeout | undefined;
  const bounded = await Promise.race([
    h.exited,
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), BOUND_MS);
    }),
  ]);
  clearTimeout(timer);
  return bounded;
}

/** User + system CPU ms of a live child from /proc/<pid>/stat (fields 14, 15), or null. */
function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100; // USER_HZ, fixed at 100 in the Linux ABI for /proc

/**
 * The exit status, or null once the child has spent BOUND_MS of its own CPU time without
 * exiting: a hang is judged by the work it did, never by how long the scheduler starved it.
 */
async function boundedByCpu(h: ProcessHandle): Promise<ExitStatus | null> {
  for (;;) {
    const tick = new Promise<null>((resolve) => setTimeout(() => resolve(null), 50));
    const status = await Promise.race([h.exited, tick]);
    if (status !== null) return status;
    const used = cpuMs(h.pid);
    if (used !== null && used >= BOUND_MS) return null;
  }
}

// ---- one field: absent, clean (valid, harmless), dirty (valid, may fail or kill), or bad ----

const ABSENT = Symbol('absent');
interface Pick {
  v: unknown;
  bad: boolean;
  clean: boolean;
}
type Field = Pick | typeof ABSENT;
const c = fc.constant;
const cleanOf = (...arbs: fc.Arbitrary<unknown>[]) =>
  fc.oneof(...arbs).map((v): Pick => ({ v, bad: false, clean: true }));
const dirtyOf = (...arbs: fc.Arbitrary<unknown>[]) =>
  fc.oneof(...arbs).map((v): Pick => ({ v, bad: false, clean: false }));
const badOf = (...arbs: fc.Arbitrary<unknown>[]) =>
  fc.oneof(...arbs).map((v): Pick => ({ v, bad: true, clean: false }));
/** A fresh value per case (objects the code under test might keep or mutate). */
const fresh = <T>(make: () => T) => c(null).map(make);

/** Mostly absent; about 1 field in 32 bad, so a good share of cases is fully valid. */
function field(
  clean: fc.Arbitrary<Pick> | null,
  dirty: fc.Arbitrary<Pick> | null,
  bad: fc.Arbitrary<Pick>,
): fc.Arbitrary<Field> {
  const arms: Array<{ weight: number; arbitrary: fc.Arbitrary<Field> }> = [
    { weight: 24, arbitrary: c(ABSENT) },
    { weight: 1, arbitrary: bad },
  ];
  if (clean) arms.push({ weight: 5, arbitrary: clean });
  if (dirty) arms.push({ weight: 2, arbitrary: dirty });
  // Cross-shrink: a counterexample shrinks towards "absent" for every field not at fault.
  return fc.oneof({ withCrossShrink: true }, ...arms);
}

/** Junk of every JS type. */
const junk = fc.oneof(
  c(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  fc.bigInt(),
  c({}),
  c([]),
  fc.anything({ maxDepth: 2 }),
);
/** Junk but not undefined (undefined means "absent" for every field). */
const junkDefined = junk.filter((v) => v !== undefined);
const nonString = junkDefined.filter((v) => typeof v !== 'string');
const noNul = (s: string) => !s.includes('\0');
const text = fc.string({ unit: 'binary', maxLength: 12 }).filter(noNul);
const withNul = fc
  .tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }))
  .map(([a, b]) => `${a}\0${b}`);

// ---- the world the cases run in (paths are made in beforeAll, read lazily) ----

let dir = '';
let inFile = '';
let outFile = '';
let plainFile = '';
let openFd = -1;
const ourPgid = native.getpgid(0);
const cpus = onlineCpus();
const root = process.getuid?.() === 0;

/** What the child ends with when every value is clean. */
type Expect = { code: number } | { signal: string } | 'fails' | 'any';

interface Command {
  program: Field;
  args: Field;
  expect: Expect;
}

const PRINTS = 'echo out; echo err >&2';
const SCRIPTS: Array<[string, Expect]> = [
  ['exit 0', { code: 0 }],
  ['exit 3', { code: 3 }],
  ['exit 255', { code: 255 }],
  ['sleep 0.02; exit 7', { code: 7 }],
  ['kill -KILL $$', { signal: 'SIGKILL' }],
  ['kill -TERM $$', { signal: 'SIGTERM' }],
  [PRINTS, { code: 0 }],
];

function commandArb(): fc.Arbitrary<Command> {
  const goodArgs = fc.array(text, { maxLength: 4 });
  const runsTrue = fc.tuple(fc.constantFrom('true', '/bin/true', '/usr/bin/true'), goodArgs).map(
    ([p, a]): Command => ({
      program: { v: p, bad: false, clean: true },
      args: a.length === 0 ? ABSENT : { v: a, bad: false, clean: true },
      expect: { code: 0 },
    }),
  );
  const runsSh = fc.constantFrom(...SCRIPTS).map(
    ([script, expect]): Command => ({
      program: { v: 'sh', bad: false, clean: true },
      args: { v: ['-c', script], bad: false, clean: true },
      expect,
    }),
  );
  // Well-formed programs that cannot run: the spawn must throw, with a runtime kind.
  const cannotRun = fc
    .tuple(
      fc.constantFrom(
        () => 'no-such-program-fuzz',
        () => '/no/such/dir/prog',
        () => './no-such-prog',
        () => dir, // a directory: EACCES
        () => plainFile, // not executable: EACCES
        () => 'a'.repeat(5000), // ENAMETOOLONG
        () => `/${'b'.repeat(300)}/x`,
      ),
      goodArgs,
    )
    .map(
      ([p, a]): Command => ({
        program: { v: p(), bad: false, clean: false },
        args: a.length === 0 ? ABSENT : { v: a, bad: false, clean: true },
        expect: 'fails',
      }),
    );
  const badProgram = badOf(c(''), withNul, nonString, c(['true'])).map(
    (program): Command => ({ program, args: ABSENT, expect: 'any' }),
  );
  const noProgram = c<Command>({ program: ABSENT, args: ABSENT, expect: 'any' });
  const base = fc.oneof(
    { withCrossShrink: true },
    { weight: 12, arbitrary: runsTrue },
    { weight: 6, arbitrary: runsSh },
    { weight: 3, arbitrary: cannotRun },
    { weight: 2, arbitrary: badProgram },
    { weight: 1, arbitrary: noProgram },
  );
  // Arguments replaced by huge or hostile ones, whatever the program.
  const hugeArgs = dirtyOf(
    fresh(() => Array.from({ length: 20_000 }, (_, i) => `arg${i}`)),
    fresh(() => ['x'.repeat(200_000)]), // above MAX_ARG_STRLEN: E2BIG
  );
  const badArgs = badOf(
    fc.tuple(fc.array(text, { maxLength: 3 }), withNul).map(([a, n]) => [...a, n]),
    fc.array(nonString, { minLength: 1, maxLength: 3 }),
    fc
      .sparseArray(text, { maxLength: 4, noTrailingHole: false })
      .filter((a) => Object.keys(a).length !== a.length),
    c([undefined]),
    // null is taken as "no arguments", like undefined.
    junkDefined.filter((v) => !Array.isArray(v) && v !== null),
  );
  return fc
    .tuple(
      base,
      fc.oneof({ withCrossShrink: true }, { weight: 40, arbitrary: c(null) }, hugeArgs, badArgs),
    )
    .map(([cmd, args]): Command => {
      if (args === null) return cmd;
      // sh keeps its script; the extra arguments become $0, $1...
      const v =
        cmd.program !== ABSENT && cmd.program.v === 'sh' && !args.bad
          ? [...((cmd.args as Pick).v as string[]), ...(args.v as string[])]
          : args.v;
      const expect = args.bad ? 'any' : cmd.expect === 'fails' ? 'fails' : 'any';
      return { ...cmd, args: { ...args, v }, expect };
    });
}

const STDIO_WORDS = ['inherit', 'null', 'pipe', 'socketpair'];

function isStdioObject(v: unknown): boolean {
  return v !== null && typeof v === 'object' && ('fd' in v || 'file' in v);
}

function stdioArb(stream: 'stdin' | 'stdout' | 'stderr') {
  const file = stream === 'stdin' ? () => inFile : () => outFile;
  return field(
    cleanOf(
      fc.constantFrom(...STDIO_WORDS),
      fresh(() => ({ file: file() })),
      fresh(() => ({ file: file(), append: true })),
      fresh(() => ({ file: '/dev/null' })),
      fc.constantFrom(0, 1, 2).map((fd) => ({ fd })),
      fresh(() => ({ fd: openFd })),
    ),
    dirtyOf(
      fresh(() => ({ file: path.join(dir, 'missing', 'f') })),
      fc.constantFrom(1000, 4095, 0x7fffffff).map((fd) => ({ fd })), // not open: EBADF
    ),
    badOf(
      fc.constantFrom('PIPE', '', 'ignore', 'overlapped', 'inherit ', 'ipc'),
      junkDefined.filter(
        (v) => !(typeof v === 'string' && STDIO_WORDS.includes(v)) && !isStdioObject(v),
      ),
      // Above INT_MAX an fd would wrap in the addon: 2^32 + 1 became our own stdout.
      fc
        .constantFrom(-1, 1.5, Number.NaN, Infinity, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 1e300, -0.5)
        .map((fd) => ({ fd })),
      fc.constantFrom('1', null, undefined, true, {}).map((fd) => ({ fd })),
      fc.oneof(c(''), withNul, nonString).map((f) => ({ file: f })),
    ),
  );
}

// Above 2^31-1 ms Node timers fire after 1 ms: such a timeout killed the child at once.
const MS_CLEAN = [10_000, 60_000, 2 ** 31 - 1];
const msBad = badOf(
  fc.constantFrom(-1, -0.5, Number.NaN, Infinity, -Infinity, '100', null, true, {}, 10n),
  fc.constantFrom(2 ** 31, 1e10, 8.64e15, Number.MAX_VALUE),
);
const boolBad = badOf(fc.constantFrom('yes', 'false', 1, 0, null, {}));
const idBad = badOf(fc.constantFrom(-1, 1.5, 2 ** 32, 0xffffffff, 'root', null, Number.NaN));

function optionsArb() {
  const envKey = fc
    .string({ minLength: 1, maxLength: 6 })
    .filter(noNul)
    .map((k) => `FUZZ_${k.replace(/=/g, '_')}`);
  const envGood = fc.dictionary(envKey, fc.option(text, { nil: undefined }), { maxKeys: 4 });
  const envBadKey = fc
    .tuple(envGood, fc.oneof(c(''), c('A=B'), c('=x'), c('='), withNul), text)
    .map(([env, k, v]) => ({ ...env, [k]: v }));
  const envBadValue = fc
    .tuple(envGood, envKey, fc.oneof(withNul, nonString))
    .map(([env, k, v]) => ({ ...env, [k]: v }));
  const rlimitName = fc.constantFrom(...RLIMIT_NAMES);
  const badCpu = () => Math.max(...cpus) + 1;

  return fc.record({
    command: commandArb(),
    argv0: field(cleanOf(text, c('')), null, badOf(withNul, nonString)),
    cwd: field(
      cleanOf(
        fresh(() => dir),
        c('/'),
        c('.'),
        c('test'),
      ),
      dirtyOf(
        c('/no/such/dir'),
        fresh(() => plainFile),
        fresh(() => path.join(dir, 'gone')),
      ),
      badOf(c(''), withNul, nonString),
    ),
    env: field(
      cleanOf(envGood),
      null,
      badOf(envBadKey, envBadValue, c(null), fc.string(), fc.integer(), c(['A=1']), c(true)),
    ),
    clearEnv: field(cleanOf(fc.boolean()), null, boolBad),
    stdin: stdioArb('stdin'),
    stdout: stdioArb('stdout'),
    stderr: stdioArb('stderr'),
    processGroup: field(
      cleanOf(
        fc.boolean(),
        fresh(() => ourPgid),
      ),
      dirtyOf(c(0x7ffffff0)), // no such group: setpgid refuses
      badOf(
        fc.constantFrom(0, -1, 1.5, Number.NaN, Infinity, 2 ** 31, 2 ** 53, 1e300, 'true', null),
        c({}),
        c([]),
        // 2^32 + n used to wrap in the addon and join group n (ours).
        fresh(() => 2 ** 32 + ourPgid),
      ),
    ),
    newSession: field(cleanOf(fc.boolean()), null, boolBad),
    timeout: field(
      cleanOf(fc.constantFrom(...MS_CLEAN)),
      dirtyOf(fc.constantFrom(0, 1, 5, 50)),
      msBad,
    ),
    // null means the default, as for args.
    killSignal: field(
      cleanOf(fc.constantFrom('SIGTERM', 'SIGKILL', 'SIGINT', 'SIGUSR1', 'SIGHUP')),
      null,
      badOf(
        fc.constantFrom('sigterm', 'TERM', 'SIGFOO', '', 'constructor', '__proto__', 'toString'),
        fc.constantFrom(15, 9, true),
        c({}),
      ),
    ),
    killGrace: field(cleanOf(fc.constantFrom(0, 10, ...MS_CLEAN)), null, msBad),
    signal: field(
      cleanOf(fresh(() => new AbortController().signal)),
      dirtyOf(
        fresh(() => AbortSignal.abort()),
        fresh(() => AbortSignal.timeout(5)),
      ),
      badOf(
        fc.constantFrom('abort', 1, null, true),
        c({}),
        fresh(() => ({ aborted: false, addEventListener() {}, removeEventListener() {} })),
      ),
    ),
    affinity: field(
      cleanOf(
        fc.subarray(cpus, { minLength: 1 }),
        fc.array(fc.constantFrom(...cpus), { minLength: 1, maxLength: 5 }),
      ),
      null,
      badOf(
        c([]),
        fc
          .constantFrom(-1, 0.5, Number.NaN, Infinity, 2 ** 31, 2 ** 40, 1e300, '0', null)
          .map((x) => [x]),
        fresh(() => [badCpu()]),
        fresh(() => [cpus[0], badCpu() + 63]),
        fc.constantFrom('0', 0, null),
        c({}),
        c({ 0: 0, length: 1 }),
      ),
    ),
    scheduler: field(
      cleanOf(
        fc.record(
          {
            policy: fc.constantFrom('other', 'batch', 'idle'),
            priority: c(0),
            resetOnFork: fc.boolean(),
          },
          { requiredKeys: ['policy'] },
        ),
        fc.record(
          {
            policy: fc.constantFrom('fifo', 'rr'),
            priority: fc.integer({ min: 1, max: 99 }),
            resetOnFork: fc.boolean(),
          },
          { requiredKeys: ['policy'] },
        ),
      ),
      null,
      badOf(
        fc.constantFrom('fifo', null, 5),
        fc.constantFrom({}, [], { policy: 'deadline' }, { policy: 'FIFO' }),
        c({ policy: 'fifo', priority: 0 }),
        fc.record({
          policy: fc.constantFrom('fifo', 'rr'),
          priority: fc.oneof(
            fc.integer({ min: 100, max: 2 ** 31 }),
            fc.integer({ max: 0 }),
            fc.constantFrom(1.5, '5', Number.NaN, null),
          ),
        }),
        fc.record({
          policy: fc.constantFrom('other', 'batch', 'idle'),
          priority: fc.oneof(
            fc.integer({ min: 1 }),
            fc.integer({ max: -1 }),
            fc.constantFrom(0.5, '0'),
          ),
        }),
        fc.record({
          policy: fc.constantFrom('other', 'fifo'),
          resetOnFork: fc.constantFrom('yes', 1, null),
        }),
      ),
    ),
    nice: field(
      cleanOf(fc.integer({ min: -20, max: 19 })),
      null,
      badOf(
        fc.integer({ min: 20 }),
        fc.integer({ max: -21 }),
        fc.constantFrom(0.5, Number.NaN, Infinity, '5', null, -0.1),
      ),
    ),
    rlimits: field(
      cleanOf(
        fc.constantFrom(
          {},
          { core: 0 },
          { core: { soft: 0, hard: 0 } },
          { nofile: 1024 },
          { nofile: { soft: 256, hard: 1024 } },
          { cpu: 'unlimited' },
          { fsize: Infinity },
          { nofile: undefined },
          { msgqueue: { soft: 0, hard: 1024 } },
        ),
      ),
      dirtyOf(
        // Raising a hard limit needs CAP_SYS_RESOURCE, which root may lack (containers).
        c({ msgqueue: { soft: 0, hard: 'unlimited' } }),
        // Never `core`: a child these limits crash must not dump a core file into the cwd.
        fc.dictionary(
          rlimitName.filter((n) => n !== 'core'),
          fc.oneof(
            fc.constantFrom(0, 1, 4096, 2 ** 40, Number.MAX_SAFE_INTEGER, 'unlimited', Infinity),
            fc
              .tuple(fc.nat(), fc.nat())
              .map(([a, b]) => ({ soft: Math.min(a, b), hard: Math.max(a, b) })),
          ),
          { minKeys: 1, maxKeys: 3 },
        ),
      ),
      badOf(
        fc
          .tuple(rlimitName, fc.constantFrom(-1, 1.5, '10', null, Number.NaN, -Infinity, 2 ** 53))
          .map(([k, v]) => ({ [k]: v })),
        fc
          .tuple(
            rlimitName,
            fc.constantFrom(
              {},
              { soft: 1 },
              { soft: 10, hard: 5 },
              { soft: 'unlimited', hard: 5 },
              { soft: -1, hard: 1 },
            ),
          )
          .map(([k, v]) => ({ [k]: v })),
        fc.constantFrom({ bogus: 1 }, { NOFILE: 1 }, { '': 1 }),
        fc.constantFrom(null, 'nofile', 5),
        c([]),
        c([1]),
      ),
    ),
    uid: field(cleanOf(c(0)), dirtyOf(c(65534)), idBad),
    gid: field(cleanOf(c(0)), dirtyOf(c(65534)), idBad),
    inheritScheduling: field(cleanOf(fc.boolean()), null, boolBad),
    containment: field(
      cleanOf(fc.constantFrom('none', 'group', 'cgroup')),
      null,
      badOf(fc.constantFrom('None', 'Group', '', null, 1, true)),
    ),
    dieWithParent: field(cleanOf(fc.boolean()), null, boolBad),
    forceClone: field(cleanOf(fc.boolean()), null, boolBad),
  });
}

interface Case {
  options: unknown;
  /** Root names of the fields at fault ('args', 'rlimits'...): the error must name one. */
  bad: Set<string>;
  /** Every value valid and harmless: the child must run and end as `expect` says. */
  clean: boolean;
  expect: Expect;
}

const quiet = (spec: unknown) =>
  spec === 'null' || spec === 'pipe' || spec === 'socketpair' || isFileSpec(spec);
const isFileSpec = (spec: unknown) =>
  spec !== null && typeof spec === 'object' && 'file' in spec && !('fd' in spec);

function toCase(r: Record<string, unknown>): Case {
  const cmd = r.command as Command;
  const options: Record<string, unknown> = {};
  const bad = new Set<string>();
  let clean = true;
  const fields: Array<[string, Field]> = [
    ['program', cmd.program],
    ['args', cmd.args],
    ...Object.entries(r)
      .filter(([k]) => k !== 'command')
      .map(([k, v]): [string, Field] => [k, v as Field]),
  ];
  for (const [key, pick] of fields) {
    if (pick === ABSENT) continue;
    options[key] = pick.v;
    if (pick.bad) bad.add(key);
    if (!pick.clean) clean = false;
  }
  if (cmd.program === ABSENT) bad.add('program');
  // Combinations that are bad although each value is fine on its own.
  if (typeof options.processGroup === 'number' && !bad.has('processGroup')) {
    if (
      options.newSession === true ||
      (contained(options.containment) && !bad.has('containment'))
    ) {
      bad.add('processGroup');
    }
  }
  // Not root: realtime policies and a lower nice may be refused.
  if (!root && (options.scheduler !== undefined || options.nice !== undefined)) clean = false;
  // Keep the test log readable: the printing script only where its output is captured, and
  // limits that break the dynamic loader (it complains on stderr) with stderr discarded.
  const args = options.args as unknown[] | undefined;
  if (args?.[1] === PRINTS && !(quiet(options.stdout) && quiet(options.stderr))) {
    options.args = ['-c', 'exit 0', ...args.slice(2)];
  }
  const r2 = r.rlimits as Field;
  if (r2 !== ABSENT && !r2.clean && !r2.bad && !bad.has('stderr') && !quiet(options.stderr)) {
    options.stderr = 'null';
  }
  return { options, bad, clean, expect: cmd.expect };
}

/** Now and then the whole options object is junk: null, a string, an array... */
const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 60, arbitrary: optionsArb().map(toCase) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(null, undefined, 'true', 5, ['true'], true).map(
      (options): Case => ({
        options,
        bad: new Set(['options', 'program']),
        clean: false,
        expect: 'any',
      }),
    ),
  },
);

// ---- the oracle ----

let nativeSpawns = 0;
const stats = {
  cases: 0,
  spawned: 0,
  invalid: 0,
  refused: new Map<string, number>(),
  ms: { spawned: 0, invalid: 0, refused: 0 },
};

function rootOf(field: string): string {
  return /^[A-Za-z0-9]+/.exec(field)?.[0] ?? field;
}

function checkStatus(h: ProcessHandle, s: ExitStatus): void {
  must(s.pid === h.pid, `status.pid ${s.pid} is not the handle's ${h.pid}`);
  must(s.lost === undefined, 'status lost: reaped by someone else');
  must((s.code === null) !== (s.signal === null), `code and signal: ${s.code}, ${s.signal}`);
  if (s.code !== null) must(Number.isInteger(s.code) && s.code >= 0 && s.code <= 255, 'code');
  if (s.signal !== null) must(Object.hasOwn(constants.signals, s.signal), `signal ${s.signal}`);
  must(typeof s.coreDumped === 'boolean', 'coreDumped');
  must(Number.isFinite(s.durationMs) && s.durationMs >= 0, `durationMs ${s.durationMs}`);
  for (const [k, v] of Object.entries(s.rusage)) {
    must(Number.isFinite(v) && v >= 0, `rusage.${k} ${v}`);
  }
  must(!h.running && h.status === s, 'handle not settled with the status');
  must(h.kill('SIGTERM') === false, 'kill() true after reap');
}

/** rlimits.cpu with a soft limit of 0 seconds: the child may be killed before it execs. */
function cpuLimitZero(options: unknown): boolean {
  const cpu = (options as { rlimits?: { cpu?: unknown } }).rlimits?.cpu;
  if (cpu === 0) return true;
  return typeof cpu === 'object' && cpu !== null && (cpu as { soft?: unknown }).soft === 0;
}

function ownGroup(o: Record<string, unknown>): boolean {
  return o.processGroup === true || o.newSession === true || contained(o.containment);
}

/** containment 'none' is the same as leaving it out: no group or cgroup of the child's own. */
function contained(containment: unknown): boolean {
  return containment !== undefined && containment !== 'none';
}

async function runCase(k: Case): Promise<void> {
  stats.cases++;
  const t0 = performance.now();
  const before = nativeSpawns;
  let h: ProcessHandle;
  try {
    h = spawn(k.options as Parameters<typeof spawn>[0]);
  } catch (e) {
    if (!(e instanceof ProcessError)) {
      throw new Error(`spawn threw a non-ProcessError: ${String(e)}`, { cause: e });
    }
    must(KINDS.has(e.kind), `undocumented kind ${e.kind}`);
    must(e.message.length > 0, 'empty message');
    if (k.bad.size > 0) {
      stats.invalid++;
      must(e.kind === 'InvalidCommand', `bad input got ${e.kind}: ${e.message}`);
      must(typeof e.field === 'string', `no field: ${e.message}`);
      must(k.bad.has(rootOf(e.field)), `field ${e.field} is not one at fault: ${e.message}`);
      must(e.code === 'EINVAL', `code ${String(e.code)}`);
      must(nativeSpawns === before, `bad input reached native.spawn: ${e.message}`);
      stats.ms.invalid += performance.now() - t0;
      return;
    }
    const key = `${e.kind}:${e.code}`;
    stats.refused.set(key, (stats.refused.get(key) ?? 0) + 1);
    must(RUNTIME_KINDS.has(e.kind), `valid input refused as ${e.kind}: ${e.message}`);
    must(!k.clean, `clean input failed: ${e.message}`);
    stats.ms.refused += performance.now() - t0;
    return;
  }
  stats.spawned++;
  const o = k.options as Record<string, unknown>;
  must(k.bad.size === 0, `bad input accepted (${[...k.bad]})`);
  if (k.expect === 'fails') {
    // A child the kernel kills before its exec (RLIMIT_CPU 0 kills at the first tick past
    // the limit) cannot report: like glibc's posix_spawn and Rust's std::process, we see the
    // report pipe close and hand back a child that died by that signal. Anything else is a bug.
    const status = await h.exited;
    must(
      cpuLimitZero(k.options) && (status.signal === 'SIGKILL' || status.signal === 'SIGXCPU'),
      `a program that cannot run was spawned (${status.code ?? status.signal})`,
    );
    checkStatus(h, status);
    return;
  }
  must(Number.isInteger(h.pid) && h.pid > 0, `pid ${h.pid}`);
  if (ownGroup(o)) must(h.pgid === h.pid, `pgid ${h.pgid} of a group leader ${h.pid}`);
  else if (o.processGroup === ourPgid) must(h.pgid === ourPgid, `pgid ${h.pgid}`);
  // Streams left alone: whatever the child's stdio, the handle must close its descriptors
  // (the fd check at the end). None of the programs reads stdin or writes much.
  const bounded = starvable(o) ? await boundedByCpu(h) : await boundedByClock(h);
  if (bounded === null) h.kill('SIGKILL');
  const status = await h.exited;
  checkStatus(h, status);
  if (k.clean && typeof k.expect === 'object') {
    const got = `code ${status.code}, signal ${status.signal}`;
    must(
      bounded !== null,
      `a clean child still ran after ${BOUND_MS} ms (of its own CPU time if SCHED_IDLE)`,
    );
    must(!h.timedOut, `a clean child hit its timeout (${got})`);
    must(!h.aborted, 'a clean child was aborted');
    if ('code' in k.expect)
      must(status.code === k.expect.code, `expected code ${k.expect.code}, ${got}`);
    else must(status.signal === k.expect.signal, `expected ${k.expect.signal}, ${got}`);
  }
  stats.ms.spawned += performance.now() - t0;
}

// ---- the run ----

function ourCgroups(): string[] {
  const base = cgroupBase();
  if (base === null) return [];
  return readdirSync(base).filter((n) => n.startsWith(`core-process.${process.pid}.`));
}

describe('spawn options fuzz', () => {
  const realSpawn = native.spawn;
  let fdsBefore = 0;
  let childrenBefore: number[] = [];
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);

  beforeAll(() => {
    dir = tempDir('core-process-fuzz-');
    inFile = path.join(dir, 'in.txt');
    outFile = path.join(dir, 'out.txt');
    plainFile = path.join(dir, 'plain');
    writeFileSync(inFile, 'input\n');
    writeFileSync(plainFile, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    mkdirSync(path.join(dir, 'sub'));
    openFd = openSync(path.join(dir, 'fd.txt'), 'w');
    // Counts calls into the addon: bad input must be refused before the first one.
    native.spawn = (...a: Parameters<typeof realSpawn>) => {
      nativeSpawns++;
      return realSpawn(...a);
    };
    process.on('warning', onWarning);
    fdsBefore = fdsOf('self').length;
    childrenBefore = liveChildren();
  });

  afterAll(() => {
    native.spawn = realSpawn;
    process.off('warning', onWarning);
    if (openFd >= 0) closeSync(openFd);
    rmSync(dir, { recursive: true, force: true });
  });

  itRoot(
    `returns a consistent handle or throws a typed error (${RUNS} cases)`,
    async () => {
      const started = performance.now();
      try {
        await fc.assert(fc.asyncProperty(caseArb, runCase), { numRuns: RUNS, seed: SEED });
      } catch (e) {
        throw new Error(
          `spawn options fuzz failed; replay with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}\n${(e as Error).message}`,
          { cause: e },
        );
      }
      const s = (performance.now() - started) / 1000;
      const ms = (n: number) => `${(n / 1000).toFixed(1)} s`;
      console.log(
        `spawn options fuzz: ${stats.cases} cases in ${s.toFixed(1)} s (${Math.round(stats.cases / s)}/s): ` +
          `${stats.spawned} spawned (${ms(stats.ms.spawned)}), ${stats.invalid} refused as invalid ` +
          `(${ms(stats.ms.invalid)}), ${stats.cases - stats.spawned - stats.invalid} refused by the ` +
          `system (${ms(stats.ms.refused)}): ${JSON.stringify(Object.fromEntries(stats.refused))}`,
      );

      const left = () => liveChildren().filter((p) => !childrenBefore.includes(p));
      expect(await eventually(() => left().length === 0, 5000), `children left: ${left()}`).toBe(
        true,
      );
      expect(zombieChildren()).toEqual([]);
      expect(await eventually(() => ourCgroups().length === 0, 5000), `${ourCgroups()}`).toBe(true);
      expect(fdsOf('self').length - fdsBefore, 'fd growth').toBeLessThanOrEqual(2);
      expect(warnings, 'process warnings during the run').toEqual([]);
      expect(existsSync(path.join(dir, 'missing'))).toBe(false);
      // Children run in '.' and 'test' too: nothing may dump a core file there.
      const dumped = ['core', 'test/core'].filter((f) => existsSync(f) && statSync(f).isFile());
      expect(dumped, 'core files').toEqual([]);
    },
    600_000,
  );
});
