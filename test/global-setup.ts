// Once per `vitest run`: lib/ compiled with tsc for the tests that run it outside vitest
// (subprocesses, worker bootstraps, the CLI). One compile instead of one per test file: on
// two CPUs each took 10-20 s, which was most of the suite's time.
import cp from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export default function setup(): void {
  // Each vitest project (default, clone, sigchld) runs this in the same main process, and a
  // project's teardown can come while others still run: one copy for all of them, removed
  // when the main process exits.
  if (process.env.CORE_PROCESS_COMPILED_LIB !== undefined) return;
  const cache = path.join(ROOT, 'node_modules', '.cache');
  fs.mkdirSync(cache, { recursive: true });
  // Inside node_modules so the copy resolves its dependencies from this checkout.
  const dir = fs.mkdtempSync(path.join(cache, 'core-process-lib-'));
  fs.chmodSync(dir, 0o755);
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = cp.spawnSync(
    process.execPath,
    [
      tsc,
      '-p',
      'tsconfig.build.json',
      '--outDir',
      dir,
      '--declaration',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}${r.stderr}`);
  // Test workers are forked after this runs, so they inherit it.
  process.env.CORE_PROCESS_COMPILED_LIB = dir;
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
}
