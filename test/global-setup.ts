// Once per `vitest run`: lib/ compiled with tsc for the tests that run it outside vitest
// (subprocesses, worker bootstraps). One compile instead of one per test file: on two CPUs
// each took 10-20 s, which was most of the suite's time.
//
// The copy is named by a hash of its sources and never removed during a run: every vitest
// project runs this setup, and a copy removed by one project's teardown (or at one process's
// exit) vanished under tests of another that were still using it. Copies of older sources
// are pruned after a day.
import cp from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PREFIX = 'core-process-lib-';
// Declarations too (about a second more of tsc): test/package type-checks consumers against
// the copy as a package's dist/ would be, .d.ts beside each .js.
const TSC_FLAGS = ['-p', 'tsconfig.build.json', '--sourceMap', 'false'];

function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (fs.statSync(full).isDirectory()) walk(full);
      else h.update(full).update(fs.readFileSync(full));
    }
  };
  walk(path.join(ROOT, 'lib'));
  for (const f of ['tsconfig.build.json', 'tsconfig.json', 'package.json']) {
    h.update(fs.readFileSync(path.join(ROOT, f)));
  }
  // How it is compiled: a copy made with other flags (before declarations) is not this one.
  h.update(TSC_FLAGS.join(' '));
  return h.digest('hex').slice(0, 16);
}

export default function setup(): void {
  if (process.env.CORE_PROCESS_COMPILED_LIB !== undefined) return;
  // Inside node_modules so the copy resolves its dependencies from this checkout.
  const cache = path.join(ROOT, 'node_modules', '.cache');
  fs.mkdirSync(cache, { recursive: true });
  const name = `${PREFIX}${sourceHash()}`;
  const dir = path.join(cache, name);
  if (!fs.existsSync(path.join(dir, 'index.js'))) {
    const tmp = fs.mkdtempSync(path.join(cache, `${PREFIX}tmp-`));
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = cp.spawnSync(process.execPath, [tsc, ...TSC_FLAGS, '--outDir', tmp], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
    // Readable by the other users some tests run as (setpriv).
    fs.chmodSync(tmp, 0o755);
    try {
      fs.renameSync(tmp, dir);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // a concurrent run made it first
    }
  }
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const other of fs.readdirSync(cache)) {
    if (!other.startsWith(PREFIX) || other === name) continue;
    const full = path.join(cache, other);
    try {
      if (fs.statSync(full).mtimeMs < dayAgo) fs.rmSync(full, { recursive: true, force: true });
    } catch {
      // removed by a concurrent run
    }
  }
  // Test workers are forked after this runs, so they inherit it.
  process.env.CORE_PROCESS_COMPILED_LIB = dir;
}
