#!/usr/bin/env node
// npm run test:asan: builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer
// (cmake-js, -DSANITIZE=ON) and runs the whole vitest suite against it. Node itself is not
// instrumented, so the ASan runtime is preloaded; leak checking is off because V8 keeps
// allocations alive until exit by design, and any ASan or UBSan report fails the run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cmakeJs } from './cmake-build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build-asan');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

console.log('test:asan: building the sanitizer addon into build-asan/ ...');
cmakeJs(['compile', '--out', out, '--config', 'Debug', '--CDSANITIZE=ON']);
const addon = path.join(out, 'Debug', 'core_process.node');
if (!existsSync(addon)) throw new Error(`test:asan: expected ${addon} after the build`);

const runtime = (lib) =>
  execFileSync('g++', [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim();
const preload = [runtime('libasan.so'), runtime('libubsan.so')];
for (const lib of preload) {
  if (!path.isAbsolute(lib))
    throw new Error(`test:asan: ${lib} not found (install libasan/libubsan)`);
}

const env = {
  ...process.env,
  CORE_PROCESS_ADDON: addon,
  LD_PRELOAD: preload.join(':'),
  // A small quarantine keeps RSS bounds in the tests meaningful; use-after-free within the
  // last 32 MiB of frees is still caught.
  ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:abort_on_error=0:exitcode=86:quarantine_size_mb=32',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87',
};
console.log(`test:asan: running the suite against ${path.relative(root, addon)}`);
const r = spawnSync(bin('vitest'), ['run', ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);
