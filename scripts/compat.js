#!/usr/bin/env node
// npm run compat [-- <dir>] [--against node] [--filter <text>] [--jobs <n>] [--lib <dir>]
//                 [--known-failures <file,file>]
//
// Runs a directory of unmodified Node-style test files (test-*.js, test-*.mjs) with
// require('child_process') / import 'child_process' redirected to @core/process/child_process
// (scripts/compat/hook.cjs for CJS, register.mjs for ESM), `../common` provided by the runner
// when the tree has none (scripts/compat/common). A file passes by exiting 0, is skipped when
// it prints Node's "1..0 # Skipped: <why>", and fails otherwise (non-zero exit, a signal, or
// the per-file timeout). Prints "N passed, N failed, N skipped" and each failure's name with
// the end of its output; exits 1 when anything failed. --against node runs the same files on
// node:child_process, to check the tests themselves. --known-failures names files that are
// expected to fail (what the README's differences table lists, for CI): they are still
// counted and printed as failures, but the exit is 1 only for any other failure, or for a
// known one that now passes (so the list cannot go stale).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const against = opt('--against', 'core');
const filter = opt('--filter', '');
const jobs = Number(opt('--jobs', '2'));
const timeoutMs = Number(opt('--timeout', '60000'));
const known = new Set(
  opt('--known-failures', '')
    .split(',')
    .filter((f) => f.length > 0),
);
// --lib: a compiled lib/ elsewhere (the test suite's own compile); default dist/.
const target = path.join(
  path.resolve(opt('--lib', path.join(root, 'dist'))),
  'child_process/index.js',
);
const dir = path.resolve(args[0] ?? path.join(root, 'test/compat/node-style/parallel'));

if (against !== 'core' && against !== 'node') {
  console.error(`--against must be 'core' or 'node', not ${against}`);
  process.exit(2);
}
if (against === 'core' && !existsSync(target)) {
  console.error(`${target} is missing: run npm run build:ts first (npm run compat does)`);
  process.exit(2);
}
if (!existsSync(dir)) {
  console.error(`no such directory: ${dir}`);
  process.exit(2);
}

const files = readdirSync(dir)
  .filter((f) => /^test-.*\.(c?js|mjs)$/.test(f) && f.includes(filter))
  .sort();
// lines.json beside the tree: files whose behaviour a later Node line changed. On that line
// they fail against its own node:child_process as well, so they are skipped there, saying why.
const major = Number(process.versions.node.split('.')[0]);
const linesFile = path.join(path.dirname(dir), 'lines.json');
const changed = existsSync(linesFile) ? JSON.parse(readFileSync(linesFile, 'utf8')).files : {};
const hook = path.join(root, 'scripts/compat/hook.cjs');
const register = path.join(root, 'scripts/compat/register.mjs');

function runOne(file) {
  return new Promise((resolve) => {
    const env = { ...process.env, CORE_COMPAT_DIR: dir };
    if (against === 'core') env.CORE_COMPAT_TARGET = target;
    else delete env.CORE_COMPAT_TARGET;
    const child = spawn(
      process.execPath,
      [
        // The facade is ESM; CJS tests require() it (Node 20.17+, on by default from 22.12).
        '--experimental-require-module',
        '--disable-warning=ExperimentalWarning',
        '--require',
        hook,
        '--import',
        register,
        path.join(dir, file),
      ],
      // Its own group, so whatever the test leaves running can be killed with it.
      { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already empty
      }
    };
    const timer = setTimeout(killGroup, timeoutMs);
    let settled = false;
    const settle = (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const skip = /^1\.\.0 # Skipped: (.*)$/m.exec(output);
      let result = 'failed';
      if (code === 0) result = skip ? 'skipped' : 'passed';
      resolve({ file, result, code, signal, output, why: skip?.[1] });
    };
    child.on('exit', (code, signal) => {
      // A grandchild still holding the output pipe must not stall the run: the test's
      // group goes, and a pipe still open after that (a setsid'd leftover) is abandoned.
      killGroup();
      const grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        settle(code, signal);
      }, 2000);
      child.on('close', () => {
        clearTimeout(grace);
        settle(code, signal);
      });
    });
  });
}

const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const line = changed[file];
    const r =
      line && major >= line.changedIn
        ? { file, result: 'skipped', why: `Node ${major}: ${line.why}` }
        : await runOne(file);
    results.push(r);
    const mark = r.result === 'passed' ? 'ok  ' : r.result === 'skipped' ? 'skip' : 'FAIL';
    console.log(`${mark} ${file}${r.why ? ` (${r.why})` : ''}`);
  }
}
await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));

const count = (k) => results.filter((r) => r.result === k).length;
const failed = results
  .filter((r) => r.result === 'failed')
  .sort((a, b) => (a.file < b.file ? -1 : 1));
for (const f of failed) {
  const how = f.signal ? `signal ${f.signal}` : `exit ${f.code}`;
  const tail = f.output.trim().split('\n').slice(-15).join('\n    ');
  console.log(`\nFAILED ${f.file} (${how})\n    ${tail}`);
}
console.log(
  `\n${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped (against ${against === 'core' ? '@core/process/child_process' : 'node:child_process'})`,
);
if (failed.length > 0) console.log(`failures: ${failed.map((f) => f.file).join(', ')}`);
const unexpected = failed.filter((f) => !known.has(f.file));
const stale = results.filter((r) => known.has(r.file) && r.result !== 'failed');
if (known.size > 0) {
  console.log(
    `known failures: ${failed.length - unexpected.length} of ${known.size}; unexpected: ${unexpected.length === 0 ? 'none' : unexpected.map((f) => f.file).join(', ')}`,
  );
}
for (const r of stale)
  console.log(`${r.file} is listed as a known failure but ${r.result}: take it off the list`);
process.exit(unexpected.length > 0 || stale.length > 0 ? 1 : 0);
