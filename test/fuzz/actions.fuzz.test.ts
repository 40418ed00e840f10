// Property-based fuzzing of every action the process service registers, on two real cores:
// one plain, one with a security policy and its entitlement checker. Inputs are fc.anything()
// plus near-valid objects shaped after each action's schema, mutated (a key dropped, a key
// turned to junk, an unknown key added), with ids drawn from what earlier cases created.
// Every call must resolve (never reject) to a Result; a failed one carries a CoreError of a
// documented kind, InvalidInput names its field, and a handler failure wraps a typed domain
// error (ProcessError, ThreadError, PipelineError, CoreError), never a TypeError or a bare
// Error. During the run: no unhandled rejection, no uncaught exception, no process warning.
// After it: each core still runs `true`, and once stopped leaves no child, zombie, fd or
// cgroup behind.
//
// FUZZ_RUNS=<n> sets the number of cases, FUZZ_SEED=<n> the seed; a failure prints both.
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CoreError, type CoreErrorKind } from '../../lib/core/errors.js';
import type { Core } from '../../lib/core/index.js';
import { ProcessError } from '../../lib/errors.js';
import { cgroupBase } from '../../lib/process/cgroup.js';
import { PipelineError } from '../../lib/runner/errors.js';
import { onlineCpus } from '../../lib/sched/cpus.js';
import { type ProcessService, processService } from '../../lib/service/service.js';
import { ThreadError, type ThreadErrorKind } from '../../lib/thread/errors.js';
import { testCore } from '../core/helpers.js';
import { eventually, fdsOf, liveChildren, tempDir, zombieChildren } from '../helpers.js';
import { asRoot } from '../optional.js';
import { PROCESS_KINDS } from './kinds.js';

const { describeRoot } = asRoot(
  'the actions fuzz (its policy core grants realtime and id changes)',
);

/** Cases: with the spawn options fuzz's 60,000, the 100,000 the CI run asks for. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 40_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_612);
/** One action call taking longer than this is a hang. */
const CALL_BOUND_MS = 15_000;

const CORE_KINDS = new Set<CoreErrorKind>([
  'NotRegistered',
  'NotEntitled',
  'InvalidInput',
  'HandlerFailed',
  'Duplicate',
  'Locked',
  'Lifecycle',
  'Timeout',
  'Aborted',
  'PermissionDenied',
]);
const THREAD_KINDS = new Set<ThreadErrorKind>([
  'CreationFailed',
  'JoinFailed',
  'InvalidAffinity',
  'Unsupported',
  'PermissionDenied',
  'TimedOut',
  'InvalidArgument',
  'NotFound',
]);

/** Every action the service registers; a new one must get its own arbitrary here. */
const ACTIONS = [
  'process.run',
  'process.start',
  'process.kill',
  'process.list',
  'process.get',
  'process.wait',
  'process.input',
  'process.output',
  'process.pipeline',
  'process.pipelines',
  'process.system',
  'thread.create',
  'thread.join',
  'thread.affinity',
  'daemon.start',
  'daemon.stop',
  'daemon.list',
  'daemon.get',
  'daemon.health',
] as const;
type ActionName = (typeof ACTIONS)[number];

function must(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// ---- values ----

const c = fc.constant;
const cpus = onlineCpus();
const noNul = (s: string) => !s.includes('\0');
const text = fc.string({ maxLength: 10 }).filter(noNul);
const junk = fc.oneof(
  c(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.string({ maxLength: 8 }),
  c({}),
  c([]),
  fc.anything({ maxDepth: 2 }),
);
/** Four times in five a good value, else a bad one. */
const mostly = (good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: bad });

/** An object with up to `max` of the given keys (each key's values mostly good). */
function some(
  keyed: Record<string, fc.Arbitrary<unknown>>,
  max: number,
): fc.Arbitrary<Record<string, unknown>> {
  const entry = fc.oneof(
    ...Object.entries(keyed).map(([k, v]) => v.map((value): [string, unknown] => [k, value])),
  );
  return fc.array(entry, { maxLength: max }).map((e) => Object.fromEntries(e));
}

/*
 * Bugs this fuzz found, fixed, and kept in its inputs so they stay fixed:
 * - daemon health probes with a `tcp` that is not host:port or non-numeric timings passed the
 *   schema and crashed the host later from the supervisor's probe timer.
 * - process.input to a child that had exited or whose stdin was closed failed with the
 *   stream's own untyped Error.
 * - a shell started with processGroup: false whose background job holds the output pipes
 *   kept its managed process 'running' after the shell died: process.wait ignored its
 *   timeout and core.stop() timed out.
 */

/** A reference to something an earlier case created, resolved when the case runs. */
class Ref {
  constructor(
    readonly pool: 'proc' | 'thread' | 'pid',
    readonly n: number,
  ) {}
}
const ref = (pool: Ref['pool']) => fc.nat(50).map((n) => new Ref(pool, n));
const procId = fc.oneof(
  { weight: 8, arbitrary: ref('proc') },
  c('proc-0'),
  c('thread-1'),
  c(''),
  text,
);
const threadId = fc.oneof(
  { weight: 8, arbitrary: ref('thread') },
  c('thread-0'),
  c('proc-1'),
  text,
);
const daemonName = mostly(
  fc.constantFrom('fz-a', 'fz-b', 'fz.c', 'fz_d'),
  fc.constantFrom('-bad', '', 'fz e', 'x'.repeat(300)),
);

/**
 * Near-valid: the shape, then 1 time in 4 a mutation: a key dropped, a key set to junk, an
 * unknown key added.
 */
function mutated(shape: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  const drop = fc.tuple(shape, fc.nat()).map(([o, i]) => {
    const keys = Object.keys(o);
    if (keys.length === 0) return o;
    const out = { ...o };
    delete out[keys[i % keys.length] as string];
    return out;
  });
  const poison = fc.tuple(shape, fc.nat(), junk).map(([o, i, v]) => {
    const keys = Object.keys(o);
    if (keys.length === 0) return { x: v };
    return { ...o, [keys[i % keys.length] as string]: v };
  });
  const extra = fc
    .tuple(shape, fc.string({ minLength: 1, maxLength: 6 }), junk)
    .map(([o, k, v]) => ({ ...o, [k]: v }));
  return fc.oneof(
    { weight: 9, arbitrary: shape },
    { weight: 1, arbitrary: drop },
    { weight: 1, arbitrary: poison },
    { weight: 1, arbitrary: extra },
  );
}

// Programs whose run is short whatever the arguments: a case never waits long on a child.
// Sleeps up to `longest` seconds: process.start children live a while (for kill, wait and
// input to find them running); what a case waits for itself stays shorter.
const looseArgs = fc.array(text, { maxLength: 3 });
const commandOf = (longest: string) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(
        fc.constantFrom('true', 'false', 'echo', 'printf', '/bin/true'),
        looseArgs,
      ),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(c('sleep'), fc.constantFrom([], ['0'], ['0.01'], [longest], ['x'])),
    },
    {
      weight: 3,
      arbitrary: fc.tuple(
        c('sh'),
        fc.constantFrom(
          ['-c', 'exit 3'],
          ['-c', 'kill -KILL $$'],
          ['-c', 'echo out; echo err >&2'],
          ['-c', 'head -c 300000 /dev/zero'], // more than the policy core's ring buffer
          ['-c', 'sleep 0.05 & exit 0'], // a grandchild that holds the pipes a while
          ['-c', 'printf "\\377\\376 bad utf-8"'],
        ),
      ),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(
        fc.constantFrom('no-such-cmd-fuzz', '/no/such/cmd', '/etc/passwd', '/tmp'),
        looseArgs,
      ),
    },
  );

const command = commandOf('0.2');
const shortCommand = commandOf('0.02');

let dir = '';
const cwd = mostly(
  fc.oneof(
    c(null).map(() => dir),
    c('/'),
  ),
  fc.constantFrom('/no/such/dir', '/etc/passwd', ''),
);
const env = mostly(
  fc.dictionary(
    text.map((k) => `FUZZ_${k.replace(/=/g, '_')}`),
    text,
    { maxKeys: 3 },
  ),
  fc.constantFrom({ PATH: '/nonexistent' }, { A: 1 }, { 'A=B': 'x' }, { A: 'x\0y' }),
);

// Spawn options process.start and daemon.start pass through to spawn(): valid and not.
// Never a processGroup number: the service's group kill on a stop timeout would reach a group
// the child joined, which could be the test runner's own.
const spawnExtras = some(
  {
    timeout: mostly(fc.constantFrom(0, 20, 300), fc.constantFrom(-1, '100', 1e10)),
    stdout: mostly(
      fc.constantFrom('null', 'pipe', 'socketpair'),
      fc.constantFrom('ignore', 5, null),
    ),
    stderr: mostly(fc.constantFrom('null', 'pipe'), c('bogus')),
    stdin: mostly(fc.constantFrom('null', 'pipe'), c({ fd: -1 })),
    processGroup: mostly(fc.boolean(), fc.constantFrom(0, 'yes', -5)),
    newSession: mostly(fc.boolean(), c('no')),
    affinity: mostly(fc.subarray(cpus, { minLength: 1 }), fc.constantFrom([], [99], '0')),
    nice: mostly(fc.integer({ min: -20, max: 19 }), fc.constantFrom(40, 'x')),
    scheduler: mostly(
      fc.oneof(
        fc.record({
          policy: fc.constantFrom('fifo', 'rr'),
          priority: fc.integer({ min: 1, max: 99 }),
        }),
        fc.constantFrom({ policy: 'other' }, { policy: 'idle' }),
      ),
      fc.constantFrom({ policy: 'bogus' }, null, 'fifo'),
    ),
    rlimits: mostly(
      fc.constantFrom({ nofile: 256 }, { core: 0 }),
      fc.constantFrom({ nofile: 1e6 }, { bogus: 1 }, null, []),
    ),
    uid: mostly(fc.constantFrom(0, 65534), c(-1)),
    killSignal: mostly(fc.constantFrom('SIGKILL', 'SIGTERM'), fc.constantFrom('SIGFOO', 9)),
    killGrace: mostly(fc.constantFrom(0, 100), c(-1)),
    containment: mostly(fc.constantFrom('group', 'cgroup'), c('box')),
    inheritScheduling: mostly(fc.boolean(), c(1)),
    clearEnv: mostly(fc.boolean(), c('yes')),
    argv0: mostly(text, c(5)),
    signal: fc.constantFrom('abort', {}),
  },
  2,
);

const runInput = mutated(
  fc
    .tuple(shortCommand, some({ cwd, env }, 2))
    .map(([[command, args], rest]) => ({ command, args, ...rest })),
);

const startInput = mutated(
  fc
    .tuple(
      fc.oneof(
        { weight: 8, arbitrary: command },
        // Reads stdin until process.input closes it; the timeout bounds it anyway.
        { weight: 1, arbitrary: fc.tuple(c('sh'), c(['-c', 'cat'])) },
      ),
      some({ cwd, env, detach: mostly(fc.boolean(), c('yes')) }, 2),
      fc.option(spawnExtras, { freq: 2 }),
    )
    .map(([[command, args], rest, extras]) => ({ command, args, ...rest, ...(extras ?? {}) })),
).map((input) => {
  // A shell reading its stdin pipe (`sh -c cat`, or `sh` whose args a mutation dropped)
  // must end whatever the mutations did: a timeout, in whatever group the mutations chose.
  const o = input as { command?: unknown; args?: unknown } | null;
  if (o?.command !== 'sh') return input;
  const args = Array.isArray(o.args) ? o.args : [];
  if (args[0] === '-c' && args[1] !== 'cat') return input;
  return { ...o, timeout: 300 };
});

const signalName = mostly(
  fc.constantFrom('SIGTERM', 'SIGKILL', 'SIGINT', 'SIGUSR1', 'SIGHUP', 'SIGCONT', 'SIGWINCH'),
  fc.constantFrom('SIGFOO', 'sigterm', ''),
);

const specName = mostly(fc.constantFrom('a', 'b', 'c', 'd'), c(''));
const pipelineInput = mutated(
  fc
    .tuple(
      fc.array(
        fc
          .tuple(
            specName,
            shortCommand,
            some(
              {
                after: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'zz'), { maxLength: 2 }),
                allowFailure: fc.boolean(),
                timeout: mostly(fc.constantFrom(0, 50, 500), fc.constantFrom(-1, 1e10)),
                env,
                killSignal: mostly(c('SIGKILL'), c('SIGNOPE')),
              },
              2,
            ),
          )
          .map(([name, [command, args], rest]) => ({ name, command, args, ...rest })),
        { minLength: 0, maxLength: 4 },
      ),
      some(
        {
          mode: mostly(fc.constantFrom('all', 'sequential', 'parallel'), c('random')),
          concurrency: mostly(fc.constantFrom(1, 2, 8), fc.constantFrom(0, -1, 1.5)),
        },
        2,
      ),
    )
    .map(([specs, rest]) => ({ specs, ...rest })),
);

const fixture = (name: string) => new URL(`../thread/fixtures/${name}`, import.meta.url).href;
const threadInput = mutated(
  fc
    .tuple(
      mostly(
        fc.oneof(
          fc
            .constantFrom('report.mjs', 'throws.mjs', 'exports.mjs', 'unclonable.mjs', 'flag.mjs')
            .map(fixture),
          // Runs a while, for joins with a timeout to meet it running.
          c('data:text/javascript,export default () => new Promise((r) => setTimeout(r, 200))'),
        ),
        fc.constantFrom(
          'data:text/javascript,export default ({ data }) => data',
          'data:text/javascript,throw new Error("top level")',
          'node:fs',
          'file:///no/such/module.mjs',
          '/no/such/module.mjs',
          'relative.mjs',
          'https://127.0.0.1:1/x.mjs',
          '',
        ),
      ),
      some(
        {
          name: mostly(text, c('a-very-long-thread-name-indeed')),
          affinity: mostly(fc.subarray(cpus, { minLength: 1 }), fc.constantFrom([], [99], [-1])),
          priority: mostly(
            fc.oneof(
              fc.constantFrom('low', 'normal', 'high', 'realtime'),
              fc.record({
                policy: fc.constantFrom('fifo', 'rr'),
                priority: fc.integer({ min: 1, max: 99 }),
              }),
              c({ policy: 'other', nice: 5 }),
            ),
            fc.oneof(c('urgent'), c({ policy: 'fifo', priority: 100 }), junk),
          ),
          stackSize: mostly(fc.constantFrom(4 << 20, 1 << 20, 64 << 20), fc.constantFrom(1024, 0)),
          detached: fc.boolean(),
          data: fc.oneof(fc.jsonValue({ maxDepth: 2 }), c(null)),
          export: mostly(c('default'), fc.constantFrom('double', 'notAFunction', 'missing', '')),
        },
        3,
      ),
    )
    .map(([module, rest]) => ({ module, ...rest })),
);

const health = fc.oneof(
  fc.record(
    {
      exec: fc.constantFrom(['true'], ['false'], ['no-such-cmd-fuzz'], ['sleep', '0.05']),
      intervalMs: fc.constantFrom(50, 200, 1000),
      timeoutMs: fc.constantFrom(100, 1000),
      failureThreshold: fc.constantFrom(1, 3),
      startPeriodMs: fc.constantFrom(0, 50),
    },
    { requiredKeys: ['exec'] },
  ),
  fc.record(
    {
      tcp: mostly(
        fc.constantFrom('127.0.0.1:1', '[::1]:1', 'localhost:1'),
        fc.constantFrom('abc', '127.0.0.1:0', '127.0.0.1:99999', ':80'),
      ),
      intervalMs: mostly(fc.constantFrom(50, 200), fc.constantFrom(-1, 'x')),
      timeoutMs: mostly(fc.constantFrom(100, 1000), fc.constantFrom(-1, 'x', 1e10)),
    },
    { requiredKeys: ['tcp'] },
  ),
  fc.record(
    {
      http: fc.constantFrom('http://127.0.0.1:1/health', 'http://[::1]:1/', 'ftp://127.0.0.1:1/'),
      intervalMs: fc.constantFrom(50, 200),
      timeoutMs: fc.constantFrom(100, 1000),
    },
    { requiredKeys: ['http'] },
  ),
);

const daemonInput = mutated(
  fc
    .tuple(
      daemonName,
      command,
      some(
        {
          restart: some(
            {
              policy: mostly(fc.constantFrom('never', 'on-failure', 'always'), c('sometimes')),
              maxRestarts: mostly(fc.constantFrom(0, 1, 3), c(-1)),
              windowMs: mostly(fc.constantFrom(1000, 60_000), c(0)),
              backoff: some(
                {
                  initialMs: fc.constantFrom(0, 10, 100),
                  factor: mostly(fc.constantFrom(1, 2), c(0.5)),
                  maxMs: fc.constantFrom(50, 1000),
                },
                2,
              ),
              jitter: mostly(fc.constantFrom(0, 0.1, 1), c(2)),
            },
            3,
          ),
          health,
          // Junk used to pass, then fail daemon.stop and core.stop with the child left running.
          stopSignal: mostly(
            fc.constantFrom('SIGTERM', 'SIGKILL', 'SIGINT'),
            fc.constantFrom('SIGFOO', ''),
          ),
          stopGraceMs: fc.constantFrom(0, 100, 500),
        },
        3,
      ),
      fc.option(spawnExtras, { freq: 2 }),
    )
    .map(([name, [command, args], rest, extras]) => ({
      name,
      command,
      args,
      ...rest,
      ...(extras ?? {}),
    })),
);

const timeoutMs = mostly(
  fc.constantFrom(0, 1, 50, 300),
  fc.constantFrom(-1, '10', Number.NaN, Infinity, 1e10),
);

const INPUTS: Record<ActionName, fc.Arbitrary<unknown>> = {
  'process.run': runInput,
  'process.start': startInput,
  'process.kill': mutated(
    fc.oneof(
      fc.record({ id: procId, signal: signalName }, { requiredKeys: ['id'] }),
      fc.record(
        {
          pid: mostly(ref('pid'), fc.constantFrom(1, process.pid, 0, -1, 2 ** 40)),
          signal: signalName,
        },
        { requiredKeys: ['pid'] },
      ),
      c({ signal: 'SIGTERM' }),
    ),
  ),
  'process.list': junk,
  'process.get': mutated(fc.record({ id: procId })),
  'process.wait': mutated(fc.record({ id: procId, timeout: timeoutMs }, { requiredKeys: ['id'] })),
  'process.input': mutated(
    fc.record(
      { id: procId, data: fc.oneof(text, c('x'.repeat(100_000))), close: fc.boolean() },
      { requiredKeys: ['id'] },
    ),
  ),
  'process.output': mutated(fc.record({ id: procId })),
  'process.pipeline': pipelineInput,
  'process.pipelines': junk,
  'process.system': junk,
  'thread.create': threadInput,
  'thread.join': mutated(fc.record({ id: threadId, timeout: timeoutMs }, { requiredKeys: ['id'] })),
  'thread.affinity': mutated(
    fc.record({
      id: threadId,
      cpus: mostly(fc.subarray(cpus, { minLength: 1 }), fc.constantFrom([], [99], [0.5])),
    }),
  ),
  'daemon.start': daemonInput,
  'daemon.stop': mutated(fc.record({ name: daemonName })),
  'daemon.list': junk,
  'daemon.get': mutated(fc.record({ name: daemonName })),
  'daemon.health': mutated(fc.record({ name: daemonName })),
};

/** How often each action is called, relative to the others (threads and waits cost most). */
const WEIGHT: Partial<Record<ActionName, number>> = {
  'process.run': 6,
  'process.start': 8,
  'process.kill': 5,
  'process.get': 4,
  'process.wait': 4,
  'process.input': 4,
  'process.output': 3,
  'process.pipeline': 3,
  'thread.create': 1,
  'thread.join': 2,
  'thread.affinity': 2,
  'daemon.start': 2,
  'daemon.stop': 2,
  'daemon.health': 1,
};

interface Call {
  core: number;
  name: string;
  input: unknown;
}

const callArb: fc.Arbitrary<Call> = fc.oneof(
  ...ACTIONS.map((name) => ({
    weight: WEIGHT[name] ?? 1,
    arbitrary: fc.record({
      core: fc.nat(1),
      name: c<string>(name),
      // Mostly the shaped input; sometimes anything at all.
      input: fc.oneof(
        { weight: 5, arbitrary: INPUTS[name] },
        { weight: 1, arbitrary: fc.anything() },
      ),
    }),
  })),
  // Names that are not registered.
  {
    weight: 1,
    arbitrary: fc.record({
      core: fc.nat(1),
      name: fc.constantFrom('process.nope', 'thread', '', 'daemon.*', 'process.run '),
      input: fc.anything(),
    }),
  },
);

// ---- the cores and what the cases created ----

interface Fixture {
  core: Core;
  service: ProcessService;
  procs: string[];
  threads: string[];
}
const fixtures: Fixture[] = [];

async function startCore(policy: boolean): Promise<Fixture> {
  const core = testCore({ stopTimeout: 20_000 });
  const service = processService({
    killGrace: 200,
    retainExited: 200,
    bufferSize: policy ? 64 << 10 : 1 << 20,
    ...(policy
      ? {
          policy: {
            allow: ['true', 'false', 'echo', 'printf', 'sh', 'sleep', '/bin/true'],
            maxProcesses: 8,
            maxRealtimePriority: 10,
            cpus: [cpus[0] as number],
            rlimits: { max: { nofile: 4096 } },
          },
        }
      : {}),
  });
  core.use(service);
  if (policy) core.setEntitlementChecker(service.entitlements);
  await core.start();
  return { core, service, procs: [], threads: [] };
}

/** Replaces top-level Refs with live ids or pids (made-up ones when the pool is empty). */
async function resolve(f: Fixture, input: unknown): Promise<unknown> {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [k, v] of Object.entries(out)) {
    if (!(v instanceof Ref)) continue;
    if (v.pool === 'pid') {
      const list = await f.core.action('process.list').run();
      const pids = list.ok ? (list.value as Array<{ pid: number | null }>).map((p) => p.pid) : [];
      out[k] = pids.length === 0 ? 1 : pids[v.n % pids.length];
    } else {
      const pool = v.pool === 'proc' ? f.procs : f.threads;
      out[k] = pool.length === 0 ? `${v.pool}-${v.n}` : pool[pool.length - 1 - (v.n % pool.length)];
    }
  }
  return out;
}

// ---- the oracle ----

const stats = {
  calls: 0,
  ok: 0,
  kinds: new Map<string, number>(),
  perAction: new Map<string, number>(),
  okPerAction: new Map<string, number>(),
  invalidPerAction: new Map<string, number>(),
  ms: new Map<string, number>(),
};
const startInputs = new Map<string, unknown>();
const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

function checkCause(name: string, cause: unknown): void {
  if (cause instanceof ProcessError) {
    must(PROCESS_KINDS.has(cause.kind), `${name}: ProcessError kind ${cause.kind}`);
    if (cause.kind === 'InvalidCommand') {
      must(
        typeof cause.field === 'string',
        `${name}: InvalidCommand without field: ${cause.message}`,
      );
    }
    count(stats.kinds, `ProcessError.${cause.kind}`);
  } else if (cause instanceof ThreadError) {
    must(THREAD_KINDS.has(cause.kind), `${name}: ThreadError kind ${cause.kind}`);
    count(stats.kinds, `ThreadError.${cause.kind}`);
  } else if (cause instanceof PipelineError) {
    count(stats.kinds, 'PipelineError');
  } else if (cause instanceof CoreError) {
    must(CORE_KINDS.has(cause.kind), `${name}: nested CoreError kind ${cause.kind}`);
    count(stats.kinds, `HandlerFailed/CoreError.${cause.kind}`);
  } else {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    throw new Error(`${name}: handler failed with an untyped error: ${what}`, { cause });
  }
}

/**
 * What the kernel says of a child the policy core admitted, while it still runs: realtime
 * priority within maxRealtimePriority (10), pinned to the policy's CPU.
 */
async function checkPolicyHeld(f: Fixture, id: string): Promise<void> {
  const snap = await f.core.action('process.get').run({ id });
  const pid = snap.ok ? (snap.value as { pid: number | null }).pid : null;
  if (pid === null) return;
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return; // gone already
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (Number(fields[1]) !== process.pid || fields[0] === 'Z') return;
  const rtPriority = Number(fields[37]);
  must(rtPriority <= 10, `policy core: ${id} (pid ${pid}) runs at realtime priority ${rtPriority}`);
  const allowed = /^Cpus_allowed_list:\s*(.*)$/m.exec(status)?.[1];
  must(allowed === String(cpus[0]), `policy core: ${id} (pid ${pid}) may run on CPUs ${allowed}`);
}

async function runCall(call: Call): Promise<void> {
  const f = fixtures[call.core] as Fixture;
  const t0 = performance.now();
  try {
    await runResolved(call, f, await resolve(f, call.input));
  } finally {
    stats.ms.set(call.name, (stats.ms.get(call.name) ?? 0) + performance.now() - t0);
  }
}

async function runResolved(call: Call, f: Fixture, input: unknown): Promise<void> {
  stats.calls++;
  count(stats.perAction, call.name);
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((r) => {
    timer = setTimeout(() => r('hang'), CALL_BOUND_MS);
  });
  let r: unknown;
  try {
    r = await Promise.race([f.core.action(call.name).run(input), hang]);
  } catch (e) {
    throw new Error(`${call.name}: run() rejected: ${String(e)}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
  if (r === 'hang') {
    const id = (input as { id?: unknown } | null)?.id;
    const snap = typeof id === 'string' ? await f.core.action('process.get').run({ id }) : null;
    const log = (f.core as unknown as { log?: unknown[] }).log?.slice(-3);
    throw new Error(
      `${call.name}(${JSON.stringify(input)}): no answer within ${CALL_BOUND_MS} ms; ` +
        `snapshot ${JSON.stringify(snap)}; start input ${JSON.stringify(startInputs.get(id as string))}; log ${JSON.stringify(log)}`,
    );
  }
  must(r !== null && typeof r === 'object' && 'ok' in r, `${call.name}: not a Result`);
  const result = r as { ok: boolean; value?: unknown; error?: unknown };
  if (result.ok) {
    stats.ok++;
    count(stats.okPerAction, call.name);
    count(stats.kinds, 'ok');
    const v = result.value as Record<string, unknown> | undefined;
    if (call.name === 'process.start') {
      must(typeof v?.id === 'string', 'process.start: value without id');
      f.procs.push(v.id as string);
      startInputs.set(v.id as string, input);
      if (call.core === 1) await checkPolicyHeld(f, v.id as string);
    } else if (call.name === 'thread.create') {
      must(typeof v?.id === 'string' && typeof v.tid === 'number', 'thread.create: value');
      f.threads.push(v.id as string);
    } else if (call.name === 'process.run') {
      must(typeof result.value === 'string', 'process.run: value is not stdout text');
    } else if (call.name === 'process.wait') {
      must(v?.status !== 'running' && v?.status !== 'pending', `process.wait: ${v?.status}`);
    }
    return;
  }
  const e = result.error;
  must(e instanceof CoreError, `${call.name}: error is not a CoreError: ${String(e)}`);
  // A domain kind (seed 004 §5) is the handler error's own, which rides along as cause.
  const domain = e.origin !== undefined;
  must(
    CORE_KINDS.has(e.kind) || (domain && (e.cause as { kind?: string })?.kind === e.kind),
    `${call.name}: undocumented kind ${e.kind}`,
  );
  must(e.message.length > 0, `${call.name}: empty message`);
  count(stats.kinds, e.kind);
  if (e.kind === 'InvalidInput') {
    count(stats.invalidPerAction, `${call.name}@${e.field}`);
    must(
      typeof e.field === 'string' && e.field.length > 0,
      `${call.name}: InvalidInput without field`,
    );
  } else if (e.kind === 'HandlerFailed' || domain) {
    checkCause(call.name, e.cause);
  } else if (e.kind === 'PermissionDenied') {
    must(typeof e.reason === 'string', `${call.name}: PermissionDenied without reason`);
  } else if (e.kind === 'NotEntitled') {
    must(call.core === 1, `${call.name}: NotEntitled without an entitlement checker`);
  } else if (e.kind === 'NotRegistered') {
    must(!(ACTIONS as readonly string[]).includes(call.name), `${call.name}: NotRegistered`);
  } else {
    throw new Error(`${call.name}: unexpected kind ${e.kind}: ${e.message}`);
  }
}

// ---- the run ----

/** Our open descriptors and what they point at, grouped: "socket:12, pipe:3, ...". */
function describeFds(): string {
  const kinds = new Map<string, number>();
  for (const fd of fdsOf('self')) {
    let target = '?';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`)
        .replace(/:\[\d+\]$/, '')
        .replace(/^\/tmp\/.*/, '/tmp/...');
    } catch {
      // closed meanwhile
    }
    kinds.set(target, (kinds.get(target) ?? 0) + 1);
  }
  return `${fdsOf('self').length}: ${JSON.stringify(Object.fromEntries(kinds))}`;
}

function ourCgroups(): string[] {
  const base = cgroupBase();
  if (base === null) return [];
  return readdirSync(base).filter((n) => n.startsWith(`core-process.${process.pid}.`));
}

describeRoot('actions fuzz', () => {
  const rejections: unknown[] = [];
  const exceptions: unknown[] = [];
  const warnings: string[] = [];
  /** Every unhandled rejection, uncaught exception and warning of the run, shrinks included. */
  const failures: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const onException = (error: unknown) => exceptions.push(error);
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  let fdsBefore = 0;
  let fdsBeforeText = '';
  let childrenBefore: number[] = [];

  beforeAll(async () => {
    dir = tempDir('core-process-actions-fuzz-');
    writeFileSync(path.join(dir, 'file'), 'x');
    fdsBefore = fdsOf('self').length;
    fdsBeforeText = describeFds();
    childrenBefore = liveChildren();
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    process.on('warning', onWarning);
    fixtures.push(await startCore(false), await startCore(true));
  });

  afterAll(async () => {
    for (const f of fixtures.splice(0)) await f.core.stop();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    process.off('warning', onWarning);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`every action answers every input with a typed Result (${RUNS} cases)`, async () => {
    for (const f of fixtures) {
      expect([...f.core.actions()].sort()).toEqual([...ACTIONS].sort());
    }
    const started = performance.now();
    try {
      await fc.assert(
        fc.asyncProperty(callArb, async (call) => {
          await runCall(call);
          // A turn of the loop, so an async failure the call caused is blamed on it.
          await new Promise((r) => setImmediate(r));
          const [rejection] = rejections.splice(0);
          const [exception] = exceptions.splice(0);
          const [warning] = warnings.splice(0);
          if (rejection !== undefined) failures.push(rejection);
          if (exception !== undefined) failures.push(exception);
          if (warning !== undefined) failures.push(warning);
          must(rejection === undefined, `unhandled rejection: ${String(rejection)}`);
          must(exception === undefined, `uncaught exception: ${String(exception)}`);
          must(warning === undefined, `process warning: ${warning}`);
        }),
        { numRuns: RUNS, seed: SEED },
      );
    } catch (e) {
      throw new Error(
        `actions fuzz failed; replay with FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS}\n${(e as Error).message}`,
        { cause: e },
      );
    }
    const s = (performance.now() - started) / 1000;
    console.log(
      `actions fuzz: ${stats.calls} calls in ${s.toFixed(1)} s (${Math.round(stats.calls / s)}/s), ` +
        `${stats.ok} ok; outcomes ${JSON.stringify(Object.fromEntries(stats.kinds))}; ` +
        `per action ${JSON.stringify(Object.fromEntries(stats.perAction))}; ok per action ${JSON.stringify(Object.fromEntries(stats.okPerAction))}`,
    );
    if (process.env.FUZZ_DEBUG) {
      const ms = [...stats.ms].map(([k, v]) => [k, Math.round(v)]);
      const invalid = [...stats.invalidPerAction].sort((a, b) => b[1] - a[1]).slice(0, 40);
      console.log(`ms per action ${JSON.stringify(Object.fromEntries(ms))}`);
      console.log(`InvalidInput by field ${JSON.stringify(Object.fromEntries(invalid))}`);
    }

    // The cores keep working: once the daemons are stopped and the last children have
    // exited (the policy core allows 8 at once), `true` runs.
    for (const f of fixtures) {
      const daemons = await f.core.action('daemon.list').run();
      for (const d of daemons.ok ? (daemons.value as Array<{ name: string }>) : []) {
        expect((await f.core.action('daemon.stop').run({ name: d.name })).ok).toBe(true);
      }
      expect(await eventually(() => f.service.running() === 0, 5000)).toBe(true);
      const r = await f.core.action('process.run').run({ command: 'true' });
      expect(r, 'process.run true after the fuzz').toEqual({ ok: true, value: '' });
    }
    for (const f of fixtures) {
      const report = await f.core.stop();
      expect(report.ok, JSON.stringify(report)).toBe(true);
      // Detached children are not stopped by design; none of ours runs more than 0.2 s.
      expect(await eventually(() => f.service.running() === 0, 5000)).toBe(true);
    }
    const left = () => liveChildren().filter((p) => !childrenBefore.includes(p));
    expect(await eventually(() => left().length === 0, 5000), `children left: ${left()}`).toBe(
      true,
    );
    expect(zombieChildren()).toEqual([]);
    expect(await eventually(() => ourCgroups().length === 0, 5000), `${ourCgroups()}`).toBe(true);
    const grown = await eventually(() => fdsOf('self').length - fdsBefore <= 4, 5000);
    expect(grown, `fds before ${fdsBeforeText}, now ${describeFds()}`).toBe(true);
    expect([...failures, ...rejections, ...exceptions, ...warnings].map(String)).toEqual([]);
  }, 600_000);
});
