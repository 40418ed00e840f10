#!/usr/bin/env node
// clang-format over native/ and fuzz/ with the binary the `clang-format` npm package ships, so the
// check needs no system LLVM. --check fails on any difference; --fix rewrites in place.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const files = ['native', 'fuzz'].flatMap((dir) =>
  readdirSync(path.join(root, dir))
    .filter((f) => /\.(cc|c|h)$/.test(f))
    .map((f) => path.join(dir, f)),
);
const mode = process.argv[2] ?? '--check';
const args = mode === '--fix' ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const bin = path.join(root, 'node_modules', '.bin', 'clang-format');
const r = spawnSync(bin, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`clang-format ${mode}: ${files.length} files, failed (run npm run format)`);
  process.exit(r.status ?? 1);
}
console.log(`clang-format ${mode}: ${files.length} files ok`);
