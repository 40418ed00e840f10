// Shared by the daemon tests: facts read from /proc without the library, the daemon layer
// compiled for plain Node children, and a line-oriented child runner on node:child_process.
import cp, { type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../subprocess.js';

export const DAEMON_FIXTURES = path.join(ROOT, 'test', 'daemon', 'fixtures');

/**
 * starttime (field 22) of /proc/<pid>/stat, read here without the library: the fields after
 * "(comm) " are split and counted from field 3.
 */
export function startTimeOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  const value = rest[22 - 3];
  if (value === undefined) throw new Error(`no starttime in /proc/${pid}/stat: ${stat}`);
  return value;
}

/** A pid that existed and has been reaped: `true`, run to completion. */
export function deadPid(): number {
  const r = cp.spawnSync('true');
  if (r.pid === undefined || r.status !== 0) throw new Error('could not run true');
  return r.pid;
}

/** Entries of a directory, sorted; [] when it does not exist. */
export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

let compiled: Promise<string> | undefined;
let compiledDir: string | undefined;

/**
 * The file URL of a directory holding lib/daemon compiled with tsc (daemon/*.js), once per
 * test file. Only the daemon layer's import closure is compiled, so a half-written file in
 * another layer cannot break these tests; the project's build settings are extended as is.
 */
export function compiledDaemon(): Promise<string> {
  compiled ??= new Promise<string>((resolve, reject) => {
    // Inside node_modules/.cache so the copy resolves zod from this checkout's node_modules.
    const cache = path.join(ROOT, 'node_modules', '.cache');
    fs.mkdirSync(cache, { recursive: true });
    const dir = fs.mkdtempSync(path.join(cache, 'core-process-daemon-'));
    compiledDir = dir;
    const config = path.join(dir, 'tsconfig.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        extends: path.join(ROOT, 'tsconfig.build.json'),
        compilerOptions: {
          rootDir: path.join(ROOT, 'lib'),
          outDir: path.join(dir, 'out'),
          declaration: false,
          sourceMap: false,
        },
        files: [
          path.join(ROOT, 'lib', 'daemon', 'daemon.ts'),
          path.join(ROOT, 'lib', 'daemon', 'pidfile.ts'),
        ],
        include: [],
      }),
    );
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    cp.execFile(process.execPath, [tsc, '-p', config], { cwd: ROOT }, (err, o, e) => {
      if (err) reject(new Error(`tsc failed: ${err.message}\n${o}${e}`));
      else resolve(pathToFileURL(path.join(dir, 'out')).href);
    });
  });
  return compiled;
}

/** Removes the compiled copy; call from afterAll. */
export function removeCompiledDaemon(): void {
  if (compiledDir) fs.rmSync(compiledDir, { recursive: true, force: true });
  compiled = undefined;
  compiledDir = undefined;
}

export interface NodeChild {
  proc: ChildProcessWithoutNullStreams;
  /** The next complete stdout line; rejects if the child exits first or after `timeoutMs`. */
  line(timeoutMs?: number): Promise<string>;
  /** Resolves with how the child ended; stopped with SIGKILL after 20 s. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Runs test/daemon/fixtures/<script> in plain Node, stdin/stdout as pipes. */
export function startNode(script: string, args: string[]): NodeChild {
  const proc = cp.spawn(process.execPath, [path.join(DAEMON_FIXTURES, script), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 20_000,
    killSignal: 'SIGKILL',
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buffered = '';
  let err = '';
  let ended = false;
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      lines.push(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
    wake();
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('close', (code, signal) => {
      ended = true;
      wake();
      resolve({ code, signal });
    });
  });
  const line = (timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${script}: no line within ${timeoutMs} ms; stderr: ${err}`)),
        timeoutMs,
      );
      const take = () => {
        const next = lines.shift();
        if (next !== undefined) {
          clearTimeout(timer);
          resolve(next);
        } else if (ended) {
          clearTimeout(timer);
          reject(new Error(`${script} exited before printing a line; stderr: ${err}`));
        } else {
          waiters.push(take);
        }
      };
      take();
    });
  return { proc, line, exited, stderr: () => err };
}
