// Shared by the CLI tests: the command compiled and laid out as the installed package is
// (package.json, bin/core-process.js, dist/), a runner for it on node:child_process (which is
// independent of the code under test), and facts about processes read from /proc and ps.
import cp, { type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { scaled, tempDir } from '../helpers.js';
import { childEnv, ROOT } from '../subprocess.js';

const CACHE = path.join(ROOT, 'node_modules', '.cache');
const PREFIX = 'core-process-cli-';

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out.sort();
}

// What the compiled copy depends on: every lib/ source (the CLI's import closure is a subset),
// the compiler settings, the package.json the CLI reads its version from, and the bin script.
function sourceHash(): string {
  const hash = createHash('sha256');
  const files = [
    ...sourceFiles(path.join(ROOT, 'lib')),
    ...['tsconfig.json', 'tsconfig.build.json', 'package.json', 'bin/core-process.js'].map((f) =>
      path.join(ROOT, f),
    ),
  ];
  for (const f of files) hash.update(f).update('\0').update(fs.readFileSync(f)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

// Copies left by earlier versions of lib/ go after a day; a concurrent run's stays.
function pruneOld(keep: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of fs.readdirSync(CACHE)) {
    if (!name.startsWith(PREFIX) || name === keep) continue;
    const full = path.join(CACHE, name);
    try {
      if (fs.statSync(full).mtimeMs < dayAgo) fs.rmSync(full, { recursive: true, force: true });
    } catch {
      // another run removed it first
    }
  }
}

let compiled: Promise<string> | undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tsc(config: string): Promise<void> {
  const compiler = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolve, reject) => {
    cp.execFile(process.execPath, [compiler, '-p', config], { cwd: ROOT }, (err, o, e) => {
      // Exit 2: type errors, output written anyway. Type errors are `tsc --noEmit`'s to
      // report (and may be another layer's work in progress); what runs is tested here.
      if (err && err.code !== 2) reject(new Error(`tsc failed: ${err.message}\n${o}${e}`));
      else resolve();
    });
  });
}

// Compiles into a temporary directory, then renames it into place: `dir` appears whole.
async function build(dir: string): Promise<void> {
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  try {
    const config = path.join(tmp, 'tsconfig.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.build.json'),
        compilerOptions: {
          rootDir: path.join(ROOT, 'lib'),
          outDir: path.join(tmp, 'dist'),
          declaration: false,
          sourceMap: false,
        },
        files: [path.join(ROOT, 'lib', 'cli', 'main.ts')],
        include: [],
      }),
    );
    await tsc(config);
    fs.rmSync(config);
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(tmp, 'package.json'));
    fs.mkdirSync(path.join(tmp, 'bin'));
    fs.copyFileSync(
      path.join(ROOT, 'bin', 'core-process.js'),
      path.join(tmp, 'bin', 'core-process.js'),
    );
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // Only if a lock taken for abandoned finished the same copy first.
      if (!fs.existsSync(path.join(dir, 'bin', 'core-process.js'))) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The path of bin/core-process.js in a copy of the package as npm installs it: package.json,
 * bin/, and dist/ holding lib/cli/main.ts and its imports compiled with tsc (only that
 * closure, so a half-written file elsewhere in lib/ cannot break these tests). The copy is
 * keyed by a hash of the sources and shared by the test files of a run (vitest runs them in
 * separate processes): one of them compiles, under a lock directory, the others wait for it.
 */
export function compiledCli(): Promise<string> {
  // Laid out the same way by a harness that compiled it beforehand (scripts/vm/test.js: tsc
  // inside an emulated guest takes minutes).
  const prebuilt = process.env.CORE_PROCESS_COMPILED_CLI;
  if (prebuilt !== undefined && fs.existsSync(prebuilt)) return Promise.resolve(prebuilt);
  compiled ??= (async () => {
    fs.mkdirSync(CACHE, { recursive: true });
    const name = `${PREFIX}${sourceHash()}`;
    const dir = path.join(CACHE, name);
    const bin = path.join(dir, 'bin', 'core-process.js');
    const lock = `${dir}.lock`;
    const end = Date.now() + 110_000;
    while (!fs.existsSync(bin)) {
      let owner = false;
      try {
        fs.mkdirSync(lock);
        owner = true;
      } catch {
        // another test file is compiling; a lock older than any compile was abandoned
        try {
          if (Date.now() - fs.statSync(lock).mtimeMs > 120_000) fs.rmdirSync(lock);
        } catch {
          // released meanwhile
        }
      }
      if (owner) {
        try {
          if (!fs.existsSync(bin)) {
            pruneOld(name);
            await build(dir);
          }
        } finally {
          fs.rmdirSync(lock);
        }
      } else {
        if (Date.now() > end) throw new Error(`timed out waiting for ${lock}`);
        await sleep(200);
      }
    }
    return bin;
  })();
  return compiled;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running `core-process`, its output so far, and a way to wait for a line of it. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  stdout = '';
  stderr = '';
  #waiters: Array<() => void> = [];

  constructor(child: ChildProcess) {
    this.child = child;
    const wake = () => {
      for (const w of this.#waiters.splice(0)) w();
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      wake();
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      wake();
    });
    this.done = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, signal) => {
        wake();
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /**
   * Resolves with the first match of `re` in the stream (all of it so far, not one line);
   * rejects after `timeoutMs` (a generous bound) or when the process ends without one.
   */
  async waitFor(
    stream: 'stdout' | 'stderr',
    re: RegExp,
    timeoutMs = scaled(15_000),
  ): Promise<RegExpExecArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this[stream]);
      if (m !== null) return m;
      if (this.exited || Date.now() > end) {
        throw new Error(
          `no ${re} on ${stream} ${this.exited ? 'before core-process exited' : `within ${timeoutMs} ms`}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** Registers a cleanup to run when the test ends, passing or failing (vitest's onTestFinished). */
export type OnFinished = (fn: () => void | Promise<void>) => void;

/**
 * One test's view of the command: its own daemon registry (XDG_STATE_HOME in a fresh temp
 * directory) and scratch directory, and cleanup of whatever it started.
 */
export class Cli {
  readonly bin: string;
  readonly state: string;
  readonly dir: string;
  readonly #started: CliProcess[] = [];
  readonly #pids: Array<{ pid: number; since: string | null }> = [];

  constructor(bin: string, onFinished: OnFinished) {
    this.bin = bin;
    this.state = tempDir('core-process-cli-state-');
    this.dir = tempDir('core-process-cli-');
    onFinished(() => this.#cleanup());
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return childEnv({ XDG_STATE_HOME: this.state, ...extra });
  }

  /** Starts `core-process <args>`; it is SIGKILLed at the end of the test if still running. */
  start(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): CliProcess {
    const child = cp.spawn(process.execPath, [this.bin, ...args], {
      env: this.env(options.env),
      cwd: options.cwd ?? this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new CliProcess(child);
    this.#started.push(p);
    return p;
  }

  /** Runs `core-process <args>` to completion (SIGKILLed after `timeoutMs`, default 40 s: a generous bound). */
  async run(
    args: string[],
    options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
  ): Promise<CliResult> {
    const p = this.start(args, options);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), options.timeoutMs ?? scaled(40_000));
    try {
      return await p.done;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `core-process <args>` on a pseudo-terminal of 100x30 (script(1)), as a person at a
   * terminal would; stdout is everything written to the terminal.
   */
  async runOnTerminal(args: string[]): Promise<CliResult> {
    const quote = (a: string) => `'${a.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, this.bin, ...args].map(quote).join(' ');
    const p = new CliProcess(
      cp.spawn('script', ['-qec', `stty cols 100 rows 30; exec ${command}`, '/dev/null'], {
        env: this.env(),
        cwd: this.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    this.#started.push(p);
    return p.done;
  }

  /**
   * SIGKILLs this pid and the group it leads at the end of the test, if still there; not if
   * the pid has since been given to another process (a different start time).
   */
  reap(pid: number): void {
    this.#pids.push({ pid, since: startTime(pid) });
  }

  // Whatever the test left running is SIGKILLed: the pids it named (and their groups) first,
  // as they may hold core-process's pipes open, then core-process itself.
  async #cleanup(): Promise<void> {
    for (const { pid, since } of this.#pids) {
      const now = startTime(pid);
      if (now !== null && now !== since) continue;
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // gone already, or not a group leader
        }
      }
    }
    for (const p of this.#started) {
      if (!p.exited) {
        p.child.kill('SIGKILL');
        await p.done.catch(() => undefined);
      }
    }
    fs.rmSync(this.state, { recursive: true, force: true });
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Field 22 of /proc/<pid>/stat, the start time, or null when there is no such process. */
function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3] ?? null;
  } catch {
    return null;
  }
}

/** True when no live process has this pid: gone from /proc, or a zombie nobody reaped yet. */
export function dead(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Live pids whose process group is `pgid`, read from /proc. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && Number(fields[2]) === pgid) out.push(Number(entry));
    } catch {
      // raced with an exit
    }
  }
  return out;
}

/** Every match of a global regex's first group, as numbers: pids in output. */
export function pidsIn(text: string, re: RegExp): number[] {
  return [...text.matchAll(re)].map((m) => Number(m[1]));
}

export interface Proc {
  pid: number;
  ppid: number;
  cgroup: string;
}

/**
 * Live processes whose command line holds `token` (a unique sleep length), with their parent
 * and cgroup v2 path; not node itself (a supervisor's command line names its child's too).
 */
export function processesWith(token: string): Proc[] {
  const out: Proc[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args[0] === process.execPath || !args.some((a) => a.includes(token))) continue;
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] === 'Z') continue;
      const cg = fs.readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      out.push({
        pid: Number(entry),
        ppid: Number(f[1]),
        cgroup: /^0::(.*)$/m.exec(cg)?.[1] ?? '',
      });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
