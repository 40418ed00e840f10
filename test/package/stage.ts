// A consumer's view of this package without packing it: <dir>/node_modules/@core/process holds
// this checkout's package.json (so its `exports` map is what resolves require() and import)
// and a dist/ that is the run's compiled copy of lib/ (test/global-setup.ts; .js and .d.ts),
// never the possibly stale dist/ of the checkout. The addon is the one this suite tests
// (childEnv() names it). npm run pack:check does the same with the real tarball.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../subprocess.js';

/** The run's compiled lib/ with declarations, or an error saying why it is not there. */
export function compiledDist(): string {
  const dir = process.env.CORE_PROCESS_COMPILED_LIB;
  if (dir === undefined || !fs.existsSync(path.join(dir, 'index.d.ts'))) {
    throw new Error(
      `no compiled lib/ with declarations (CORE_PROCESS_COMPILED_LIB=${dir}): run through vitest, whose global setup makes it`,
    );
  }
  return dir;
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
