// For code that plain Node must run outside vitest (worker bootstraps, subprocesses, other
// users): the library compiled into a temporary directory (dist/ may be stale, and is not
// touched), the addon this suite tests, and a runner built on node:child_process, which is
// independent of the code under test.
import cp from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = path.join(ROOT, 'test', 'fixtures');

// The very file lib/native.ts loads in this process (prebuilds/ first, else build/Release/),
// unless CORE_PROCESS_ADDON already names one: workers and subprocesses must test the same.
export const ADDON = path.resolve(
  process.env.CORE_PROCESS_ADDON ??
    (createRequire(import.meta.url)('node-gyp-build') as { path: (dir: string) => string }).path(
      ROOT,
    ),
);

let compiled: Promise<string> | undefined;
let compiledDir: string | undefined;

/**
 * The file URL of index.js of lib/ compiled with tsc: the copy test/global-setup.ts made
 * for the whole run, else (a file run outside the config) once per test file. The directory is
 * world-readable so scripts run as another user (setpriv) can import it.
 */
export function compiledLib(): Promise<string> {
  const shared = process.env.CORE_PROCESS_COMPILED_LIB;
  // The run's shared copy, while it is there (CI saw it disappear mid-run under load, cause
  // not yet found); otherwise this file compiles its own as before.
  if (shared !== undefined && fs.existsSync(path.join(shared, 'thread', 'current.js'))) {
    return Promise.resolve(pathToFileURL(path.join(shared, 'index.js')).href);
  }
  compiled ??= new Promise<string>((resolve, reject) => {
    // Inside node_modules/.cache so the copy resolves its dependencies (zod, picomatch)
    // from this checkout's node_modules, as the published package would from its own.
    const cache = path.join(ROOT, 'node_modules', '.cache');
    fs.mkdirSync(cache, { recursive: true });
    const dir = fs.mkdtempSync(path.join(cache, 'core-process-lib-'));
    fs.chmodSync(dir, 0o755);
    compiledDir = dir;
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '-p', 'tsconfig.build.json', '--outDir', dir, '--declaration', 'false'];
    cp.execFile(process.execPath, [...args, '--sourceMap', 'false'], { cwd: ROOT }, (err, o, e) => {
      if (err) reject(new Error(`tsc failed: ${err.message}\n${o}${e}`));
      else resolve(pathToFileURL(path.join(dir, 'index.js')).href);
    });
  });
  return compiled;
}

/** Removes the compiled copy; call from afterAll. */
export function removeCompiledLib(): void {
  if (compiledDir) fs.rmSync(compiledDir, { recursive: true, force: true });
  compiled = undefined;
  compiledDir = undefined;
}

// A Node subprocess loading the sanitizer addon needs the sanitizer runtime preloaded again
// (test/setup.ts keeps it out of ordinary children).
const sanitizerPreload = process.env.CORE_PROCESS_SANITIZER_PRELOAD;

export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CORE_PROCESS_ADDON: ADDON,
    ...(sanitizerPreload ? { LD_PRELOAD: sanitizerPreload } : {}),
    ...extra,
  };
}

export interface NodeRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface RunNodeOptions {
  nodeFlags?: string[];
  /** Run as this user and group via `setpriv --reuid --regid --clear-groups`. */
  asUser?: number;
  /** Signalled after this many ms; default 15,000. */
  timeoutMs?: number;
}

/** Runs test/fixtures/<script> with node:child_process; stopped (signalled) after 15 s or timeoutMs. */
export function runNode(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: RunNodeOptions = {},
): Promise<NodeRun> {
  const nodeArgv = [
    process.execPath,
    ...(options.nodeFlags ?? []),
    path.join(FIXTURES, script),
    ...args,
  ];
  const argv =
    options.asUser === undefined
      ? nodeArgv
      : [
          'setpriv',
          `--reuid=${options.asUser}`,
          `--regid=${options.asUser}`,
          '--clear-groups',
          ...nodeArgv,
        ];
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const c = cp.spawn(argv[0] as string, argv.slice(1), {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 15_000,
    });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    c.on('error', reject);
    c.on('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr, elapsedMs: performance.now() - started });
    });
  });
}
