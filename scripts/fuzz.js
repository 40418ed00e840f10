#!/usr/bin/env node
// npm run fuzz: builds the libFuzzer harness over the native spawn-request decoder
// (fuzz/spawn_request_fuzzer.cc, ASan + UBSan) into build-fuzz/ and runs it for a fixed time
// on a copy of fuzz/corpus/ (the committed seeds never grow). Any crash, leak, sanitizer
// report or broken invariant fails the run and keeps the input that caused it.
//   --seconds N    how long to fuzz (default 60)
//   --self-test    build with -DFUZZ_PLANTED_BUG and require the fuzzer to find that bug
//                  within the time: proves the harness can fail at all
//   --make-corpus  regenerate fuzz/corpus/ from the harness's seed generator
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'build-fuzz');
const rel = (p) => path.relative(process.cwd(), p) || '.';
const harness = 'fuzz/spawn_request_fuzzer.cc';
// What the harness links: the decoder and the name tables it consults (all Napi-free).
const sources = [harness, 'native/decode.cc', 'native/sched_linux.cc', 'native/child_linux.cc'];
const INSTALL_HINT = 'apt-get install clang-14 libclang-rt-14-dev';

function usage(message) {
  if (message) console.error(`fuzz: ${message}`);
  console.error('usage: npm run fuzz -- [--seconds N] [--self-test | --make-corpus]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { seconds: 60, mode: 'fuzz' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) usage('--seconds needs a whole number of seconds >= 1');
      opts.seconds = n;
    } else if (a === '--self-test' || a === '--make-corpus') {
      if (opts.mode !== 'fuzz') usage('--self-test and --make-corpus do not combine');
      opts.mode = a.slice(2);
    } else if (a === '--help' || a === '-h') {
      usage();
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  return opts;
}

function findCompiler() {
  for (const cxx of ['clang++-14', 'clang++']) {
    const r = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return cxx;
  }
  console.error(`fuzz: clang++-14 (or clang++) not found; install it with: ${INSTALL_HINT}`);
  process.exit(1);
}

// -iquote, not -I: with native/ on the angle-bracket path its sched.h and spawn.h would
// shadow the system <sched.h> and <spawn.h> that libc++/pthread.h include.
function build(cxx, output, defines, sanitizers) {
  const args = [
    '-std=c++17',
    '-g',
    '-O1',
    `-fsanitize=${sanitizers}`,
    '-fno-sanitize-recover=undefined',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-D_GNU_SOURCE',
    ...defines.map((d) => `-D${d}`),
    '-iquote',
    'native',
    ...sources,
    '-o',
    output,
  ];
  console.log(`fuzz: building ${rel(output)}${defines.length ? ` (${defines.join(' ')})` : ''}`);
  const r = spawnSync(cxx, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    if (/clang_rt|libFuzzer|fuzzer/i.test(r.stderr)) {
      console.error(`fuzz: the libFuzzer runtime looks missing; install it with: ${INSTALL_HINT}`);
    }
    console.error(`fuzz: build failed (${cxx} exited ${r.status ?? r.signal})`);
    process.exit(1);
  }
}

// Runs the fuzzer binary to completion; resolves with its exit, full log and timings.
function runFuzzer(binary, workDir, seconds) {
  const corpus = path.join(workDir, 'corpus');
  const artifacts = path.join(workDir, 'artifacts');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  cpSync(path.join(root, 'fuzz', 'corpus'), corpus, { recursive: true });
  const logFile = path.join(workDir, 'fuzz.log');
  const log = createWriteStream(logFile);
  const args = [
    `-max_total_time=${seconds}`,
    '-print_final_stats=1',
    '-timeout=10',
    '-rss_limit_mb=2048',
    `-artifact_prefix=${artifacts}${path.sep}`,
    corpus,
  ];
  const env = {
    ...process.env,
    UBSAN_OPTIONS: process.env.UBSAN_OPTIONS ?? 'print_stacktrace=1:halt_on_error=1',
  };
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(binary, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    let firstFailureMs = null;
    const take = (data) => {
      const chunk = data.toString();
      log.write(chunk);
      text += chunk;
      if (firstFailureMs === null && /invariant failed|ERROR: |runtime error:/.test(chunk)) {
        firstFailureMs = Date.now() - started;
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // libFuzzer honours -max_total_time between inputs and -timeout within one; this only
    // catches a wedged process, and kills just the child we started.
    const guard = setTimeout(() => child.kill('SIGKILL'), (seconds + 120) * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      log.end();
      resolve({ code, signal, text, logFile, firstFailureMs, ms: Date.now() - started });
    });
  });
}

function stats(text) {
  const stat = (name) => {
    const m = text.match(new RegExp(`stat::${name}:\\s*(\\d+)`));
    return m ? Number(m[1]) : null;
  };
  const cov = [...text.matchAll(/cov: (\d+) ft: (\d+) corp: (\d+)/g)].pop();
  const done = text.match(/Done (\d+) runs in (\d+) second/);
  return {
    execs: stat('number_of_executed_units'),
    perSec: stat('average_exec_per_sec'),
    seconds: done ? Number(done[2]) : null,
    cov: cov ? Number(cov[1]) : null,
    ft: cov ? Number(cov[2]) : null,
    corpus: cov ? Number(cov[3]) : null,
    peakRss: stat('peak_rss_mb'),
  };
}

function failureOf(result) {
  const crash = result.text.match(/Test unit written to (\S+)/);
  const report =
    /ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant failed/;
  const failed = result.code !== 0 || result.signal !== null || report.test(result.text) || crash;
  return failed ? { crashFile: crash ? crash[1] : null } : null;
}

function tail(text, lines) {
  return text
    .split('\n')
    .filter((l) => !/^#\d+\s+(NEW|REDUCE|pulse)/.test(l))
    .slice(-lines)
    .join('\n');
}

function summary(label, s, result) {
  const secs = s.seconds ?? Math.round(result.ms / 1000);
  return (
    `${label}: ${s.execs ?? '?'} executions in ${secs} s (${s.perSec ?? '?'}/s), ` +
    `cov ${s.cov ?? '?'}, ft ${s.ft ?? '?'}, corpus ${s.corpus ?? '?'} units, ` +
    `peak rss ${s.peakRss ?? '?'} MB`
  );
}

async function fuzz(cxx, seconds) {
  const binary = path.join(out, 'spawn_request_fuzzer');
  build(cxx, binary, [], 'fuzzer,address,undefined');
  const workDir = path.join(out, 'run');
  console.log(
    `fuzz: running ${seconds} s on a copy of fuzz/corpus (log: ${rel(workDir)}/fuzz.log)`,
  );
  const result = await runFuzzer(binary, workDir, seconds);
  const s = stats(result.text);
  const failure = failureOf(result);
  if (failure) {
    console.error(tail(result.text, 40));
    console.error(summary('fuzz: FAILED', s, result));
    console.error(
      failure.crashFile
        ? `fuzz: the failing input is kept at ${rel(failure.crashFile)}; replay it with ` +
            `${rel(binary)} ${rel(failure.crashFile)}`
        : `fuzz: the fuzzer exited ${result.code ?? result.signal} (see ${rel(result.logFile)})`,
    );
    process.exit(1);
  }
  console.log(summary('fuzz: ok', s, result));
}

async function selfTest(cxx, seconds) {
  const binary = path.join(out, 'spawn_request_fuzzer-planted');
  build(cxx, binary, ['FUZZ_PLANTED_BUG'], 'fuzzer,address,undefined');
  const workDir = path.join(out, 'self-test');
  console.log(`fuzz --self-test: the planted bug must be found within ${seconds} s`);
  const result = await runFuzzer(binary, workDir, seconds);
  const failure = failureOf(result);
  // Only the planted bug counts: anything else is a real failure of the decoder or harness.
  const planted = /invariant failed[^\n]*q\.nice/.test(result.text);
  if (failure && planted && failure.crashFile) {
    const found = ((result.firstFailureMs ?? result.ms) / 1000).toFixed(1);
    const s = stats(result.text);
    console.log(
      `fuzz --self-test: ok, the planted bug (nice range check skipped) was found after ` +
        `${found} s and ${s.execs ?? '?'} executions; input kept at ${rel(failure.crashFile)}`,
    );
    return;
  }
  if (failure) {
    console.error(tail(result.text, 40));
    console.error(
      'fuzz --self-test: FAILED, the fuzzer stopped on something other than the planted bug',
    );
  } else {
    console.error(
      `fuzz --self-test: FAILED, the planted bug was not found in ${seconds} s ` +
        `(see ${rel(result.logFile)})`,
    );
  }
  process.exit(1);
}

function makeCorpus(cxx) {
  const binary = path.join(out, 'make-corpus');
  build(cxx, binary, ['FUZZ_MAKE_CORPUS'], 'address,undefined');
  const dir = path.join(root, 'fuzz', 'corpus');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The generator decodes each seed before writing it and fails on an unexpected verdict.
  const r = spawnSync(binary, [dir], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
  console.log(`fuzz --make-corpus: wrote ${rel(dir)}`);
}

const opts = parseArgs(process.argv.slice(2));
if (process.platform !== 'linux') {
  console.error('fuzz: the harness is Linux-only (it links the Linux child and sched code)');
  process.exit(1);
}
const cxx = findCompiler();
mkdirSync(out, { recursive: true });
if (opts.mode === 'make-corpus') makeCorpus(cxx);
else if (opts.mode === 'self-test') await selfTest(cxx, opts.seconds);
else await fuzz(cxx, opts.seconds);
