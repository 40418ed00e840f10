#!/usr/bin/env node
// npm run test:asan [vitest args]: builds the addon with clang-14's AddressSanitizer +
// UndefinedBehaviorSanitizer (cmake-js, -DSANITIZE=ON) and runs vitest against it with
// LeakSanitizer on. Node itself is not instrumented, so clang's ASan runtime is preloaded.
//
// Leaks are judged from the sanitizer logs, not from exit codes: every process of the run that
// loaded the addon (vitest workers, node subprocesses) checks for leaks as it exits and writes
// its report to build-asan/logs, and a leak report changes no exit code (exitcode=0), so a
// test that checks a child's exit status still means what it says. A leak counts as the addon's when the block was allocated by code in core_process.node,
// or by a Node-API function that code called. Everything else (V8 heap pages of a process
// that ends with process.exit(), other native modules, coreutils) is counted and named, not
// failed. The run fails on any ASan or UBSan error, any leak of ours, or when the canary
// (a block the addon leaks on purpose under CORE_PROCESS_LEAK_CANARY=1) is not found.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cmakeJs } from './cmake-build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build-asan');
const logs = path.join(out, 'logs');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const ADDON_MODULE = 'core_process.node';

function findClang() {
  for (const cxx of ['clang++-14', 'clang++']) {
    const r = spawnSync(cxx, ['--print-runtime-dir'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const runtime = path.join(r.stdout.trim(), 'libclang_rt.asan-x86_64.so');
    if (existsSync(runtime)) return { cxx, runtime };
  }
  console.error(
    'test:asan: needs clang with its sanitizer runtime (libclang_rt.asan-x86_64.so) for\n' +
      'LeakSanitizer; on Debian: apt-get install clang-14 libclang-rt-14-dev',
  );
  process.exit(2);
}

/**
 * One LeakSanitizer block -> { bytes, objects, site, ours }. The site is the first frame past
 * the allocator; "ours" when that frame is in the addon, or is a Node-API function (napi_*)
 * whose caller is.
 */
export function classifyLeak(block) {
  const head = /(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object/.exec(block);
  const frames = block
    .split('\n')
    .filter((l) => /^\s+#\d+ /.test(l))
    .map((l) => l.trim());
  const past = frames.filter((f) => !/libclang_rt\.asan|asan_malloc|asan_new_delete/.test(f));
  const site = past[0] ?? '(no frames)';
  // Inlined frames carry a source path, not a module: node-addon-api's headers compile into
  // the addon too.
  const inAddon = (f) =>
    f !== undefined && (f.includes(ADDON_MODULE) || /\/native\/|node-addon-api\//.test(f));
  const viaNodeApi = / in napi_/.test(site) && inAddon(past[1]);
  // An External's or a wrap's finalizer record is Node's (Ownership::kRuntime): Node frees it
  // when it finalizes the object, and no Node-API call lets the addon free it. One whose
  // object is still alive at exit is Node's to account for, not a leak the addon can fix.
  const nodeOwned = viaNodeApi && / in napi_(create_external|wrap|add_finalizer) /.test(site);
  return {
    bytes: Number(head?.[2] ?? 0),
    objects: Number(head?.[3] ?? 0),
    site: site.replace(/^#\d+ 0x[0-9a-f]+ in /, '').replace(/\s*\(BuildId: [0-9a-f]+\)/, ''),
    ours: (inAddon(site) || viaNodeApi) && !nodeOwned,
    nodeOwned,
  };
}

/** Reads every sanitizer log under dir: errors, our leaks, and the rest by executable. */
export function readReports(dir) {
  const errors = [];
  const ours = [];
  const others = new Map();
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const text = readFileSync(path.join(dir, name), 'utf8');
    const exe = name.split('.').slice(1, -1).join('.') || '?';
    if (/ERROR: AddressSanitizer|runtime error:/.test(text)) errors.push({ name, text });
    for (const block of text.split(/\n(?=(?:Direct|Indirect) leak of)/).slice(1)) {
      const leak = classifyLeak(block);
      if (leak.ours) ours.push({ name, exe, ...leak, block });
      else {
        const key = leak.nodeOwned ? `${exe}: Node-API finalizer records` : exe;
        const o = others.get(key) ?? { bytes: 0, leaks: 0 };
        o.bytes += leak.bytes;
        o.leaks += 1;
        others.set(key, o);
      }
    }
  }
  return { errors, ours, others };
}

function sanitizerEnv(runtime, logDir, extra = {}) {
  const logPath = path.join(logDir, 'asan');
  return {
    ...process.env,
    LD_PRELOAD: runtime,
    // exitcode is one flag shared by ASan, LSan and UBSan: 0 lets a leak report leave the exit
    // status alone, and abort_on_error makes every ASan or UBSan error abort (SIGABRT) instead.
    // leak_check_at_exit=0: the addon runs the leak check itself at the exit of each process
    // that loaded it (native/sanitizer_hooks.cc), not in every child the tests spawn.
    // A small quarantine keeps RSS bounds in the tests meaningful; use-after-free within the
    // last 32 MiB of frees is still caught. log_exe_name names each report's program.
    ASAN_OPTIONS: `detect_leaks=1:leak_check_at_exit=0:halt_on_error=1:abort_on_error=1:exitcode=0:quarantine_size_mb=32:log_path=${logPath}:log_exe_name=1`,
    LSAN_OPTIONS: 'report_objects=0',
    UBSAN_OPTIONS: `halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=${logPath}:log_exe_name=1`,
    ...extra,
  };
}

function main() {
  const { cxx, runtime } = findClang();
  console.log(`test:asan: building the sanitizer addon with ${cxx} into build-asan/ ...`);
  cmakeJs([
    'compile',
    '--out',
    out,
    '--config',
    'Debug',
    '--CDSANITIZE=ON',
    `--CDCMAKE_CXX_COMPILER=${cxx}`,
  ]);
  const addon = path.join(out, 'Debug', ADDON_MODULE);
  if (!existsSync(addon)) throw new Error(`test:asan: expected ${addon} after the build`);

  // The canary first: a process that loads the addon with CORE_PROCESS_LEAK_CANARY=1 must
  // produce exactly the leak this check is there to find.
  const canaryLogs = path.join(logs, 'canary');
  rmSync(canaryLogs, { recursive: true, force: true });
  mkdirSync(canaryLogs, { recursive: true });
  execFileSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], {
    env: sanitizerEnv(runtime, canaryLogs, { CORE_PROCESS_LEAK_CANARY: '1' }),
    stdio: 'inherit',
  });
  const canary = readReports(canaryLogs);
  if (!canary.ours.some((l) => l.bytes === 4096 && /SanitizerHooks/.test(l.site))) {
    console.error('test:asan: the leak check did not see the canary leak; it would miss ours too');
    process.exit(1);
  }
  console.log('test:asan: leak check armed (the planted 4096-byte canary leak was reported)');

  // Tests run some children as nobody; a log they cannot create aborts them. Under the system
  // temp directory, 1777 like /tmp: a private (0700) checkout is closed to them on the way.
  const suiteLogs = mkdtempSync(path.join(tmpdir(), 'core-process-asan-logs-'));
  chmodSync(suiteLogs, 0o1777);
  process.on('exit', () => rmSync(suiteLogs, { recursive: true, force: true }));
  console.log(`test:asan: running the suite against ${path.relative(root, addon)}`);
  const r = spawnSync(bin('vitest'), ['run', ...process.argv.slice(2)], {
    cwd: root,
    env: sanitizerEnv(runtime, suiteLogs, {
      CORE_PROCESS_ADDON: addon,
      // Every process here loads the ASan runtime (LD_PRELOAD), Node included: starts and
      // spawns run two to three times slower, so the suite's bounds stretch as on the qemu
      // lanes (test/helpers.ts scaled()). A value already set (a slower machine) wins.
      CORE_PROCESS_TEST_TIME_SCALE: process.env.CORE_PROCESS_TEST_TIME_SCALE ?? '3',
    }),
    stdio: 'inherit',
  });

  const { errors, ours, others } = readReports(suiteLogs);
  for (const e of errors) console.error(`\n--- ${e.name}\n${e.text}`);
  for (const l of ours) console.error(`\n--- leak in ${l.name}\n${l.block}`);
  const processes = readdirSync(suiteLogs).length;
  const otherBytes = [...others.values()].reduce((n, o) => n + o.bytes, 0);
  const named = [...others.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(([exe, o]) => `${exe} ${o.leaks}`)
    .join(', ');
  console.log(
    `\ntest:asan: ${errors.length} sanitizer errors, ${ours.length} leaks of ours` +
      ` (${ours.reduce((n, l) => n + l.bytes, 0)} bytes); ${processes} processes reported leaks;` +
      ` not ours: ${otherBytes} bytes${named ? ` (${named})` : ''}`,
  );
  if (r.status !== 0) process.exit(r.status ?? 1);
  if (errors.length > 0 || ours.length > 0) process.exit(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
