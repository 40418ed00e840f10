#!/usr/bin/env node
// npm run lint:package: lints the tarball npm would publish, as its consumers' tools see it.
//
//  - publint (--strict: its warnings fail too): package.json fields, `exports` targets that
//    exist in the tarball and have the module format their condition promises, `files`.
//  - @arethetypeswrong/cli: TypeScript resolves types for every entry point under node16 (from
//    ESM and from CJS) and bundler resolution, and they describe the JavaScript found there.
//
// The tarball is packed from the current dist/ with --ignore-scripts: prepack would build every
// prebuild, which neither linter reads (npm run pack:check covers the prebuilds).
//
// Two attw settings, each narrower than a blanket ignore:
//  - --profile node16 leaves out `node10` resolution (TypeScript's `moduleResolution: node`),
//    which predates `exports` and cannot see the ./child_process subpath at all; TypeScript
//    deprecates it, and docs/platforms.md lists the resolutions we support.
//  - --ignore-rules cjs-resolves-to-esm: that rule says a require() of our ES modules fails in
//    Node. It does not on the Node lines `engines` admits (20.19+, 22.12+: require(esm) is on by
//    default, no flag), and TypeScript types it under `module: nodenext`/`node20` (5.8+). attw
//    models Node 16 with TypeScript 5.6, which had neither. Every other rule stays on, so a
//    missing or mismatched declaration still fails the check.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);

for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/child_process/index.d.ts']) {
  if (!existsSync(path.join(root, f))) {
    console.error(`lint:package: ${f} is missing: run npm run build:ts first`);
    process.exit(2);
  }
}

const work = mkdtempSync(path.join(tmpdir(), 'core-process-lint-package-'));
let failed = false;
const step = (what, cmd, args) => {
  console.log(`lint:package: ${what}`);
  try {
    execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });
  } catch {
    failed = true;
    console.error(`lint:package: ${what} failed`);
  }
};
try {
  const out = execFileSync(
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
    { cwd: root, encoding: 'utf8' },
  );
  const tarball = path.join(work, JSON.parse(out)[0].filename);
  step('publint --strict', bin('publint'), ['run', tarball, '--strict']);
  step('attw (node16 from ESM and CJS, bundler)', bin('attw'), [
    tarball,
    '--profile',
    'node16',
    '--ignore-rules',
    'cjs-resolves-to-esm',
    '--format',
    'table-flipped',
    '--no-emoji',
    '--no-color',
  ]);
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(failed ? 'lint:package: FAILED' : 'lint:package: ok');
process.exit(failed ? 1 : 0);
