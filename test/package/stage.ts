// A consumer's view of this package without packing it: <dir>/node_modules/@core/process holds
// this checkout's package.json (so its `exports` map is what resolves require() and import)
// and a dist/ that is the run's compiled copy of lib/ (test/global-setup.ts; .js and .d.ts),
// never the possibly stale dist/ of the checkout. The addon is the one this suite tests
// (childEnv() names it). npm run pack:check does the same with the real tarball.
import cp from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../subprocess.js';

let own: string | undefined;

/**
 * The run's compiled lib/ with declarations (test/global-setup.ts), or, when that copy is not
 * there, this file's own compile of it. The shared copy has vanished mid-run under load before
 * (test/subprocess.ts's compiledLib() falls back the same way; the cause is not found yet), and
 * these tests need only some faithful compile of lib/, not that one directory.
 */
export function compiledDist(): string {
  const dir = process.env.CORE_PROCESS_COMPILED_LIB;
  if (dir !== undefined && fs.existsSync(path.join(dir, 'index.d.ts'))) return dir;
  if (own === undefined) {
    const cache = path.join(ROOT, 'node_modules', '.cache');
    fs.mkdirSync(cache, { recursive: true });
    const out = fs.mkdtempSync(path.join(cache, 'core-process-dist-'));
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = cp.spawnSync(
      process.execPath,
      [tsc, '-p', 'tsconfig.build.json', '--outDir', out, '--sourceMap', 'false'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (r.status !== 0 || !fs.existsSync(path.join(out, 'index.d.ts'))) {
      fs.rmSync(out, { recursive: true, force: true });
      throw new Error(
        `no compiled lib/ with declarations, and tsc failed:\n${r.stdout}${r.stderr}`,
      );
    }
    fs.chmodSync(out, 0o755);
    process.on('exit', () => fs.rmSync(out, { recursive: true, force: true }));
    own = out;
  }
  return own;
}

/**
 * A temporary directory with node_modules/@core/process staged in it, plus `files` copied
 * from test/fixtures (relative paths; a directory is copied whole). Removed by the returned
 * cleanup.
 *
 * @example
 * const { dir, cleanup } = stageConsumer(['require-entries.cjs']);
 */
export function stageConsumer(files: string[] = []): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-process-consumer-'));
  const pkg = path.join(dir, 'node_modules', '@core', 'process');
  fs.mkdirSync(pkg, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(compiledDist(), path.join(pkg, 'dist'), 'dir');
  for (const f of files) {
    fs.cpSync(path.join(ROOT, 'test', 'fixtures', f), path.join(dir, path.basename(f)), {
      recursive: true,
    });
  }
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
