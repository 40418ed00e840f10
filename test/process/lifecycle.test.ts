/**
 * Lifecycle under load: reaping, descriptors, coexistence with node:child_process, large
 * output, worker threads, ref/unref and failed spawns. Every claim is checked from outside
 * the library: /proc/<pid>/stat (state, ppid), /proc/<pid>/io, /proc/self/fd, real exit
 * codes and real files. In-process tests use whatever backend the environment selects (the
 * file holds under CORE_PROCESS_NO_PIDFD=1 and CORE_PROCESS_FORCE_CLONE=1 too); subprocess
 * tests pin CORE_PROCESS_NO_PIDFD themselves and check the backend they actually ran on.
 */
import cp from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backend,
  type ExitStatus,
  ProcessError,
  type ProcessHandle,
  type SpawnOptions,
  spawn,
} from '../../lib/index.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib, runNode } from '../subprocess.js';

const QUIET = { stdin: 'null', stdout: 'null', stderr: 'null' } as const;

/** The addon's reading of a CORE_PROCESS_* switch: set, non-empty and not '0'. */
function envFlag(name: string): boolean {
  const v = process.env[name];
  return v !== undefined && v !== '' && v !== '0';
}

// ---------------------------------------------------------------------------------------
// Probes: what the kernel says, never what the library says.

interface ProcStat {
  state: string;
  ppid: number;
}

/** /proc/<pid>/stat fields 3 (state) and 4 (ppid); null once the pid is gone. */
function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may hold spaces and parentheses: split after the last ')'.
  const [state = '?', ppid = '0'] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state, ppid: Number(ppid) };
}

/** Pids of this process's children that are zombies (state Z, ppid == process.pid). */
function zombieChildren(): number[] {
  const found: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s !== null && s.ppid === process.pid && s.state === 'Z') found.push(Number(name));
  }
  return found;
}

/** This process's open descriptors and what they point at, from /proc/self/fd. */
function fdTable(): Map<number, string> {
  const table = new Map<number, string>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      table.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the directory's own descriptor, already closed by readdirSync
    }
  }
  return table;
}

/**
 * fdTable() once the loop has turned: the addon closes a child's pidfd in its uv_close
 * callback, one loop iteration after `exited` settles, so a snapshot taken in the same turn
 * would count a descriptor that is already on its way out.
 */
async function fdTableAfterTurn(): Promise<Map<number, string>> {
  await sleep(10);
  return fdTable();
}

/** A readable account of what changed between two fd tables, for assertion messages. */
function fdDiff(before: Map<number, string>, after: Map<number, string>): string {
  const added = [...after]
    .filter(([fd, t]) => before.get(fd) !== t)
    .map(([fd, t]) => `+${fd} ${t}`);
  const gone = [...before].filter(([fd, t]) => after.get(fd) !== t).map(([fd, t]) => `-${fd} ${t}`);
  return `descriptor table changed: ${[...added, ...gone].join(', ') || '(same entries)'}`;
}

/** Bytes the process has written so far (/proc/<pid>/io wchar). */
function wchar(pid: number): number {
  const m = /^wchar: (\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'));
  return Number(m?.[1]);
}

/** Polls until `check` holds or `ms` passes; true when it held. */
async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (check()) return true;
    await sleep(10);
  }
  return check();
}

function closed(stream: Readable | Writable): Promise<void> {
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

/**
 * Ends stdin, consumes stdout (as text) and stderr, and resolves once the child has been
 * reaped and every stream it had has emitted 'close' (its descriptor is released by then).
 */
async function settle(
  child: ProcessHandle,
): Promise<{ status: ExitStatus; stdout: string; errors: string[] }> {
  const waits: Promise<void>[] = [];
  const errors: string[] = [];
  let stdout = '';
  const { stdin, stdout: out, stderr } = child;
  if (stdin) {
    // EPIPE is the child's right: /bin/true never reads.
    stdin.on('error', () => {});
    waits.push(closed(stdin));
    stdin.end();
  }
  if (out) {
    out.setEncoding('utf8');
    out.on('data', (d: string) => {
      stdout += d;
    });
    out.on('error', (e: Error) => errors.push(`stdout: ${e.message}`));
    waits.push(closed(out));
  }
  if (stderr) {
    stderr.on('error', (e: Error) => errors.push(`stderr: ${e.message}`));
    stderr.resume();
    waits.push(closed(stderr));
  }
  const status = await child.exited;
  await Promise.all(waits);
  return { status, stdout, errors };
}

function startWorker(lib: string, mode: string): Worker {
  return new Worker(path.join(FIXTURES, 'lifecycle-worker.mjs'), {
    workerData: { lib, mode },
    env: childEnv(),
  });
}

function nextMessage<T>(worker: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    worker.once('error', onError);
    worker.once('message', (m: T) => {
      worker.off('error', onError);
      resolve(m);
    });
  });
}

let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'core-process-lifecycle-'));
  // One-time, process-wide state is created here so later descriptor counts compare like
  // with like: the addon's cached /dev/null descriptor and libuv's child_process signal pipe.
  await settle(spawn({ program: '/bin/true', ...QUIET }));
  await new Promise((resolve) => cp.spawn('/bin/true', { stdio: 'ignore' }).on('close', resolve));
});

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
  removeCompiledLib();
});

// ---------------------------------------------------------------------------------------

describe('probes', () => {
  it('the zombie probe sees an unreaped child and the descriptor probe sees one more fd', async () => {
    // Block the event loop right after the spawn: nothing in this process can reap, so the
    // exited child must show up as a zombie (ppid = us, state Z) until the loop runs again.
    const child = spawn({ program: '/bin/true', ...QUIET });
    const blocker = new Int32Array(new SharedArrayBuffer(4));
    const deadline = performance.now() + 5000;
    let seen = false;
    while (!seen && performance.now() < deadline) {
      seen = zombieChildren().includes(child.pid);
      if (!seen) Atomics.wait(blocker, 0, 0, 5);
    }
    expect(seen).toBe(true);
    await child.exited;
    expect(procStat(child.pid)).toBeNull();
    expect(zombieChildren()).toEqual([]);

    const before = fdTable();
    const fd = fs.openSync('/dev/null', 'r');
    expect(fdTable().size).toBe(before.size + 1);
    fs.closeSync(fd);
    expect(fdTable().size).toBe(before.size);
  });
});

describe('reaping under load', () => {
  interface Planned {
    options: SpawnOptions;
    code: number | null;
    signal: string | null;
    stdout?: string;
    file?: { path: string; content: string };
  }

  // Mostly /bin/true; every 8th an `sh -c 'exit N'` read through a pipe, every 8th (offset
  // 4) one written to a file, every 100th (offset 50) one that kills itself.
  function plan(i: number): Planned {
    if (i % 8 === 0) {
      const code = i % 256;
      return {
        options: {
          program: 'sh',
          args: ['-c', `printf %s ${i}; exit ${code}`],
          ...QUIET,
          stdout: 'pipe',
        },
        code,
        signal: null,
        stdout: String(i),
      };
    }
    if (i % 8 === 4) {
      const code = (i * 7) % 256;
      const file = path.join(scratch, `sh-${i}`);
      return {
        options: {
          program: 'sh',
          args: ['-c', `printf %s ${i}; exit ${code}`],
          stdin: 'null',
          stdout: { file },
          stderr: 'pipe',
        },
        code,
        signal: null,
        file: { path: file, content: String(i) },
      };
    }
    if (i % 100 === 50) {
      return {
        options: { program: 'sh', args: ['-c', 'kill -KILL $$'], ...QUIET },
        code: null,
        signal: 'SIGKILL',
      };
    }
    const stdio: Pick<SpawnOptions, 'stdin' | 'stdout' | 'stderr'>[] = [
      QUIET,
      { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' },
      { stdin: 'null', stdout: { file: path.join(scratch, `true-${i}`) }, stderr: 'null' },
    ];
    return {
      options: { program: '/bin/true', ...stdio[i % 3] },
      code: 0,
      signal: null,
      stdout: '',
    };
  }

  it('2,000 spawns (64 in flight, mixed stdio) leave no zombie and no descriptor growth, and every exit is seen once with its code', async () => {
    const TOTAL = 2000;
    const IN_FLIGHT = 64;
    const before = await fdTableAfterTurn();
    const problems: string[] = [];
    let resolutions = 0;
    let next = 0;
    let inFlight = 0;
    let peak = 0;

    const one = async (i: number): Promise<void> => {
      const want = plan(i);
      const child = spawn(want.options);
      child.exited.then((s) => {
        resolutions++;
        // exited settles only after the kernel has let go of the child: never a zombie.
        const st = procStat(child.pid);
        if (st !== null && st.ppid === process.pid && st.state === 'Z') {
          problems.push(`#${i} pid ${child.pid}: exited resolved while still a zombie`);
        }
        if (s.pid !== child.pid) problems.push(`#${i}: status.pid ${s.pid} != ${child.pid}`);
      });
      const { status, stdout, errors } = await settle(child);
      if (status.code !== want.code || status.signal !== want.signal) {
        problems.push(
          `#${i} ${child.command}: code ${status.code} signal ${status.signal}, want ${want.code} ${want.signal}`,
        );
      }
      if (want.stdout !== undefined && child.stdout && stdout !== want.stdout) {
        problems.push(`#${i}: stdout ${JSON.stringify(stdout)}, want ${want.stdout}`);
      }
      if (want.file && fs.readFileSync(want.file.path, 'utf8') !== want.file.content) {
        problems.push(`#${i}: file ${want.file.path} does not hold ${want.file.content}`);
      }
      problems.push(...errors.map((e) => `#${i}: ${e}`));
    };

    const lane = async (): Promise<void> => {
      while (next < TOTAL) {
        const i = next++;
        inFlight++;
        peak = Math.max(peak, inFlight);
        await one(i);
        inFlight--;
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));

    expect(problems).toEqual([]);
    expect(peak).toBe(IN_FLIGHT);
    expect(resolutions).toBe(TOTAL);
    expect(zombieChildren()).toEqual([]);
    const after = await fdTableAfterTurn();
    expect(after.size, fdDiff(before, after)).toBe(before.size);
  });
});

describe('coexistence with node:child_process', () => {
  it('100 child_process children and 100 of ours in flight together all keep their exit codes', async () => {
    expect(backend().exit).toBe(envFlag('CORE_PROCESS_NO_PIDFD') ? 'sigchld' : 'pidfd');

    const mismatches: string[] = [];
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) {
      const theirs = (i * 37 + 1) % 256;
      const ours = (i * 53 + 2) % 256;
      // Half exit at once, half a little later, so exits interleave with spawns.
      const script = (n: number) => (i % 2 === 0 ? `exit ${n}` : `sleep 0.1; exit ${n}`);
      const c = cp.spawn('sh', ['-c', script(theirs)], { stdio: 'ignore' });
      waits.push(
        new Promise((resolve) => {
          c.on('exit', (code, signal) => {
            if (code !== theirs || signal !== null) {
              mismatches.push(`child_process #${i}: code ${code} signal ${signal}, want ${theirs}`);
            }
            resolve();
          });
        }),
      );
      const h = spawn({ program: 'sh', args: ['-c', script(ours)], ...QUIET });
      waits.push(
        h.exited.then((s) => {
          if (s.code !== ours || s.signal !== null || s.lost) {
            mismatches.push(`ours #${i}: code ${s.code} signal ${s.signal}, want ${ours}`);
          }
        }),
      );
    }
    await Promise.all(waits);
    expect(mismatches).toEqual([]);
    expect(waits).toHaveLength(200);
    expect(zombieChildren()).toEqual([]);
  });

  it('the same mix keeps every exit code under the SIGCHLD fallback (subprocess, CORE_PROCESS_NO_PIDFD=1)', async () => {
    const lib = await compiledLib();
    const r = await runNode(
      'lifecycle-cp-mix.mjs',
      [lib],
      childEnv({ CORE_PROCESS_NO_PIDFD: '1' }),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      backend: { exit: string };
      exits: number;
      mismatches: unknown[];
      zombies: number[];
    };
    expect(out.backend.exit).toBe('sigchld');
    expect(out.exits).toBe(200);
    expect(out.mismatches).toEqual([]);
    expect(out.zombies).toEqual([]);
  });
});

describe('large output', () => {
  it('512 MiB through a stdout pipe arrives byte-exact, a paused reader stops the writer, and our RSS stays bounded', async () => {
    const SIZE = 512 * 1024 * 1024;
    const PAUSE_AT = 64 * 1024 * 1024;
    const child = spawn({
      program: 'head',
      args: ['-c', String(SIZE), '/dev/zero'],
      stdin: 'null',
      stdout: 'pipe',
      stderr: 'null',
    });
    const stdout = child.stdout;
    if (!stdout) throw new Error('stdout pipe missing');

    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 5);

    let bytes = 0;
    let nonZero = 0;
    let paused = false;
    let stalled: { first: number; second: number; state: string | undefined } | undefined;
    const done = new Promise<void>((resolve, reject) => {
      stdout.on('error', reject);
      stdout.on('close', () => resolve());
      stdout.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (chunk[0] !== 0 || chunk[chunk.length - 1] !== 0) nonZero++;
        if (!paused && bytes >= PAUSE_AT) {
          paused = true;
          stdout.pause();
          // While we do not read, the pipe fills and the writer blocks: its write count
          // (from the kernel, /proc/<pid>/io) must not move.
          void (async () => {
            await sleep(200);
            const first = wchar(child.pid);
            await sleep(300);
            const second = wchar(child.pid);
            stalled = { first, second, state: procStat(child.pid)?.state };
            stdout.resume();
          })().catch(reject);
        }
      });
    });
    const status = await child.exited;
    await done;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());

    expect(status.code).toBe(0);
    expect(bytes).toBe(SIZE);
    expect(nonZero).toBe(0);
    expect(stalled).toBeDefined();
    // The writer had got at least as far as we had read (so /proc/<pid>/io was readable)...
    expect(stalled?.first).toBeGreaterThanOrEqual(PAUSE_AT);
    // ...and then made no progress at all while we did not read.
    expect(stalled?.second).toBe(stalled?.first);
    expect(stalled?.state).toBe('S');
    expect(stalled?.first).toBeLessThan(SIZE);
    // The sanitizer build's allocator keeps a 32 MiB quarantine and redzones on top.
    const bound = (process.env.CORE_PROCESS_SANITIZER_PRELOAD ? 192 : 128) * 1024 * 1024;
    expect(peak - baseline).toBeLessThan(bound);
  });
});

describe('worker threads', () => {
  let lib: string;
  beforeAll(async () => {
    lib = await compiledLib();
  });

  it('a worker spawns, waits and gets the exit code and output of its child', async () => {
    const worker = startWorker(lib, 'exit-code');
    const m = await nextMessage<{
      pid: number;
      code: number | null;
      signal: string | null;
      out: string;
    }>(worker);
    expect(m).toMatchObject({ code: 42, signal: null, out: 'from-worker' });
    expect(procStat(m.pid)).toBeNull();
    await worker.terminate();
  });

  it('a child outlives its terminated worker, is not a zombie, and is reaped once killed; the orphan costs no descriptor', async () => {
    // Round 1 also starts the process-wide orphan reaper (its epoll and eventfd live for
    // the life of the process); round 2's descriptor count must come back unchanged.
    let before = fdTable();
    for (let round = 1; round <= 2; round++) {
      if (round === 2) before = await fdTableAfterTurn();
      const worker = startWorker(lib, 'orphan');
      const { pid } = await nextMessage<{ pid: number }>(worker);
      await worker.terminate();
      try {
        const alive = procStat(pid);
        expect(alive).not.toBeNull();
        expect(alive?.ppid).toBe(process.pid);
        expect(alive?.state).not.toBe('Z');
        expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('sleep\u000030\u0000');
        // Still alive a moment later: terminating the worker neither killed nor lost it.
        await sleep(100);
        expect(procStat(pid)?.state).not.toBe('Z');
      } finally {
        process.kill(pid, 'SIGKILL');
      }
      const gone = await eventually(() => procStat(pid) === null, 5000);
      expect(gone, `pid ${pid} left as ${JSON.stringify(procStat(pid))}`).toBe(true);
    }
    expect(zombieChildren()).toEqual([]);
    const after = await fdTableAfterTurn();
    expect(after.size, fdDiff(before, after)).toBe(before.size);
  });

  for (const exit of ['pidfd', 'sigchld'] as const) {
    it(`[${exit}] a process that uses the library only in a worker survives that worker's orphan exiting, and the orphan is reaped`, async () => {
      // Subprocess: its main thread never loads the addon, so terminating the worker drops
      // the last environment that holds it. Whatever reaps the orphan must still be there.
      const env = childEnv({ CORE_PROCESS_NO_PIDFD: exit === 'sigchld' ? '1' : '0' });
      const r = await runNode('lifecycle-worker-only.mjs', [lib], env);
      const [first = '{}', second = '{}'] = r.stdout.trim().split('\n');
      const { pid, exit: used } = JSON.parse(first) as { pid?: number; exit?: string };
      expect(pid).toBeTypeOf('number');
      expect(used).toBe(exit);
      if (pid !== undefined && procStat(pid) !== null) process.kill(pid, 'SIGKILL');
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 0, signal: null });
      const out = JSON.parse(second) as {
        self: number;
        afterTerminate: ProcStat | null;
        afterKill: ProcStat | null;
      };
      expect(out.afterTerminate?.ppid).toBe(out.self);
      expect(out.afterTerminate?.state).not.toBe('Z');
      expect(out.afterKill).toBeNull();
    });
  }

  it('waitSync in a worker throws TimedOut while the child runs, then returns its status once it is killed', async () => {
    const worker = startWorker(lib, 'wait-sync');
    const first = await nextMessage<{ stage: string; pid: number; kind: string; running: boolean }>(
      worker,
    );
    expect(first).toMatchObject({ stage: 'timed-out', kind: 'TimedOut', running: true });
    const st = procStat(first.pid);
    expect(st?.state).toBe('S');
    expect(st?.ppid).toBe(process.pid);

    const done = nextMessage<Record<string, unknown>>(worker);
    process.kill(first.pid, 'SIGKILL');
    expect(await done).toEqual({
      stage: 'done',
      code: null,
      signal: 'SIGKILL',
      exitedSignal: 'SIGKILL',
      running: false,
    });
    expect(procStat(first.pid)).toBeNull();
    await worker.terminate();
  });
});

describe('descriptors', () => {
  it('a descriptor we inherited without CLOEXEC does not reach children, on either spawn path', async () => {
    const lib = await compiledLib();
    // node:child_process gives the subprocess fd 3 as a plain (non-CLOEXEC) pipe end.
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const c = cp.spawn(
          process.execPath,
          [path.join(FIXTURES, 'lifecycle-inherited-fd.mjs'), lib],
          { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe', 'pipe'], timeout: 15_000 },
        );
        let stdout = '';
        let stderr = '';
        c.stdout?.on('data', (d: Buffer) => {
          stdout += d;
        });
        c.stderr?.on('data', (d: Buffer) => {
          stderr += d;
        });
        c.on('error', reject);
        c.on('close', (code) => resolve({ code, stdout, stderr }));
      },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const fds = JSON.parse(r.stdout) as Record<string, number[]>;
    // The subprocess really holds fd 3, so the check below can fail.
    expect(fds.ours).toContain(3);
    expect(fds.posix_spawn).toEqual([0, 1, 2]);
    expect(fds.clone).toEqual([0, 1, 2]);
  });
});

describe('timed waits', () => {
  it('20,000 timed-out waits on one running child leave no retained memory', async () => {
    const lib = await compiledLib();
    const r = await runNode('lifecycle-wait-leak.mjs', [lib, '20000'], childEnv(), {
      nodeFlags: ['--expose-gc'],
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const { growth } = JSON.parse(r.stdout) as { growth: number };
    // Each leaked waiter held ~900 bytes (17 MB for 20,000) before the fix.
    expect(growth).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('ref and unref', () => {
  let lib: string;
  beforeAll(async () => {
    lib = await compiledLib();
  });

  for (const exit of ['pidfd', 'sigchld'] as const) {
    const env = () => childEnv({ CORE_PROCESS_NO_PIDFD: exit === 'sigchld' ? '1' : '0' });

    for (const mode of ['unref', 'unref-pipe-timeout'] as const) {
      it(`[${exit}] ${mode}: a script exits by itself while its child (sleep 30) keeps running`, async () => {
        const r = await runNode('lifecycle-ref.mjs', [lib, mode], env());
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.elapsedMs).toBeLessThan(10_000);
        const { pid, exit: used } = JSON.parse(r.stdout) as { pid: number; exit: string };
        // The child was left running, not killed on the way out.
        const st = procStat(pid);
        const cmdline = st === null ? '' : fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (st !== null) process.kill(pid, 'SIGKILL');
        expect(used).toBe(exit);
        expect(st).not.toBeNull();
        expect(st?.state).not.toBe('Z');
        expect(cmdline).toBe('sleep\u000030\u0000');
      });
    }

    for (const mode of ['ref', 'reref'] as const) {
      it(`[${exit}] ${mode}: a script stays alive until its child (sleep 1) exits`, async () => {
        const r = await runNode('lifecycle-ref.mjs', [lib, mode], env());
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ exit, code: 0, signal: null });
        expect(r.elapsedMs).toBeGreaterThanOrEqual(900);
      });
    }
  }
});

describe('failed spawns', () => {
  type Failure = 'program' | 'cwd' | 'stdio';
  const pipes = { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' } as const;

  function attempt(kind: Failure, i: number): unknown {
    const forceClone = i % 2 === 1;
    const options: SpawnOptions =
      kind === 'program'
        ? {
            // Absolute: gets as far as execve in a real child. Bare: fails the PATH search.
            program: i % 4 < 2 ? '/nonexistent-dir/no-such-program' : 'no-such-program-lifecycle',
            ...pipes,
            forceClone,
          }
        : kind === 'cwd'
          ? { program: '/bin/true', cwd: '/nonexistent-dir/cwd', ...pipes, forceClone }
          : {
              program: '/bin/true',
              stdin: 'pipe',
              stdout: { file: '/nonexistent-dir/x' },
              stderr: 'pipe',
              forceClone,
            };
    try {
      const child = spawn(options);
      return new Error(`spawn #${i} (${kind}) did not throw; pid ${child.pid}`);
    } catch (e) {
      return e;
    }
  }

  it('forceClone takes the clone path and the default takes posix_spawn', async () => {
    const cloned = spawn({ program: '/bin/true', ...QUIET, forceClone: true });
    const plain = spawn({ program: '/bin/true', ...QUIET });
    expect(cloned.spawnMethod).toBe('clone');
    expect(plain.spawnMethod).toBe(envFlag('CORE_PROCESS_FORCE_CLONE') ? 'clone' : 'posix_spawn');
    expect((await cloned.exited).code).toBe(0);
    expect((await plain.exited).code).toBe(0);
  });

  it('500 spawns each of a missing program, a missing cwd and an unopenable stdout file throw and leak no descriptor or zombie, on both spawn paths', async () => {
    // Absolute program paths fail at execve in the child, bare names at the PATH search.
    const want = (kind: Failure, i: number): { stage: string; path?: string } =>
      kind === 'program'
        ? { stage: i % 4 < 2 ? 'exec' : 'resolve' }
        : kind === 'cwd'
          ? { stage: 'chdir', path: '/nonexistent-dir/cwd' }
          : { stage: 'stdio', path: '/nonexistent-dir/x' };
    // Warm up once per kind and path, then count.
    for (const kind of ['program', 'cwd', 'stdio'] as const) {
      for (let i = 0; i < 4; i++) attempt(kind, i);
    }
    const before = await fdTableAfterTurn();
    const problems: string[] = [];
    for (const kind of ['program', 'cwd', 'stdio'] as const) {
      for (let i = 0; i < 500; i++) {
        const e = attempt(kind, i);
        if (!(e instanceof ProcessError)) {
          problems.push(`${kind} #${i}: ${String(e)}`);
          continue;
        }
        const w = want(kind, i);
        if (e.kind !== 'NotFound' || e.code !== 'ENOENT' || e.stage !== w.stage) {
          problems.push(`${kind} #${i}: kind ${e.kind} code ${e.code} stage ${e.stage}`);
        }
        if (w.path !== undefined && e.path !== w.path) {
          problems.push(`${kind} #${i}: path ${e.path}, want ${w.path}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(zombieChildren()).toEqual([]);
    const after = await fdTableAfterTurn();
    expect(after.size, fdDiff(before, after)).toBe(before.size);
  });
});
