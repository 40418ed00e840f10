// For code that plain Node must run outside vitest (worker bootstraps, subprocesses, other
// users): the library compiled into a temporary directory (dist/ may be stale, and is not
// touched), the addon this suite tests, and a runner built on node:child_process, which is
// independent of the code under test.
import cp from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { scaled } from './helpers.js';

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
  let nodeArgv = [
    process.execPath,
    ...(options.nodeFlags ?? []),
    path.join(FIXTURES, script),
    ...args,
  ];
  let cwd: string | undefined;
  let childVars = env;
  if (options.asUser !== undefined) {
    // The other user may not be able to enter this checkout at all (a private 0700 clone):
    // it runs a world-readable copy of whatever it needs, at the same relative paths.
    const stage = stageForOtherUsers();
    nodeArgv = nodeArgv.map((a, i) => (i === 0 ? a : stage.map(a)));
    childVars = Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v === undefined ? v : stage.map(v)]),
    );
    cwd = stage.root;
  }
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
      env: childVars,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      // An upper bound: longer where everything runs slower (the qemu lanes).
      timeout: scaled(options.timeoutMs ?? 15_000),
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

export interface Stage {
  root: string;
  /** A path or file URL under this checkout, as the staged copy's; anything else unchanged. */
  map(value: string): string;
}

let stage: Stage | undefined;

/**
 * A copy, readable by every user, of what a fixture run as another user loads from this
 * checkout: every test fixtures directory, the compiled library, the addon, and the
 * library's runtime dependencies (package.json `dependencies`, transitively). Made once per
 * test process under the system temp directory and removed at exit.
 */
export function stageForOtherUsers(): Stage {
  if (stage) return stage;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-process-asuser-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const rootSlash = ROOT.endsWith(path.sep) ? ROOT : ROOT + path.sep;
  const copy = (abs: string) => {
    const rel = path.relative(ROOT, abs);
    if (rel.startsWith('..') || fs.existsSync(path.join(dir, rel))) return;
    fs.cpSync(abs, path.join(dir, rel), { recursive: true, dereference: true });
  };
  const findFixtures = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === 'fixtures') copy(path.join(d, e.name));
      else findFixtures(path.join(d, e.name));
    }
  };
  findFixtures(path.join(ROOT, 'test'));
  copy(ADDON);
  // Our PID-namespace init lives beside the addon (lib/process/pidns.ts finds it there).
  const init = path.join(path.dirname(ADDON), 'core-process-init');
  if (fs.existsSync(init)) copy(init);
  const lib = process.env.CORE_PROCESS_COMPILED_LIB;
  if (lib !== undefined && fs.existsSync(lib)) copy(lib); // compiledLib() may have made its own
  if (compiledDir !== undefined) copy(compiledDir);
  // Runtime dependencies, found the way Node resolves them: nested first, then hoisted.
  const seen = new Set<string>();
  const addDeps = (pkgDir: string) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      let from = pkgDir;
      for (;;) {
        const candidate = path.join(from, 'node_modules', name);
        if (fs.existsSync(path.join(candidate, 'package.json'))) {
          if (!seen.has(candidate)) {
            seen.add(candidate);
            copy(candidate);
            addDeps(candidate);
          }
          break;
        }
        if (path.resolve(from) === path.resolve(ROOT) || from === path.dirname(from)) break;
        from = path.dirname(from);
      }
    }
  };
  addDeps(ROOT);
  // A umask of 077 leaves copies private too.
  const open = (p: string) => {
    const st = fs.statSync(p);
    fs.chmodSync(p, st.isDirectory() ? 0o755 : st.mode & 0o111 ? 0o755 : 0o644);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) open(path.join(p, e));
  };
  open(dir);
  const rootUrl = pathToFileURL(rootSlash).href;
  const stagedUrl = pathToFileURL(dir + path.sep).href;
  stage = {
    root: dir,
    map: (value) =>
      value.startsWith(rootSlash)
        ? path.join(dir, value.slice(rootSlash.length))
        : value.startsWith(rootUrl)
          ? stagedUrl + value.slice(rootUrl.length)
          : value,
  };
  return stage;
}
