#!/usr/bin/env node
// Runs one command inside a qemu guest booted on another kernel, and exits with its exit code.
//
//   node scripts/vm/run.js --lane x64 -- <command run in the guest, cwd = the host directory it was started from>
//   node scripts/vm/run.js --lane x64 -- npx vitest run test/process/limits.test.ts
//   node scripts/vm/run.js --lane arm64 -- node scripts/smoke.mjs dist/index.js
//
// Lanes (scripts/vm/lanes.js): x64-6.1 and arm64-6.1, Debian 12's own 6.1 kernels, pure
// cgroup v2 with cpuset, cpu, io, memory and pids delegated from the root, no v1 hierarchy.
// The guest's / is the host's / (read-only over virtio-9p, a tmpfs overlay on top: writes
// stay in the guest), so this checkout, its build/ and dist/ and node_modules are the host's.
// On arm64 the host's programs are replaced by busybox's and `node` is the official arm64
// Node of the host's version. The guest's Node is slow (TCG: no KVM here), so the harness sets
// CORE_PROCESS_TEST_TIME_SCALE for tests to scale their waits by.
//
// The command's stdout and stderr stream back as it runs; files it writes into $VM_RESULTS come
// back to runInVm's caller (scripts/vm/test.js: vitest's JSON report).
// Options: --lane <name> (required), --cpus N (2), --mem MiB (x64 4096, arm64 2048),
// --timeout S (1800), --env K=V (repeatable), --verbose (the guest console as it boots).
// Needs the lane fetched first: node scripts/vm/fetch.js (kernels, busybox) and qemu-system-x86
// / qemu-system-arm from apt. Exit codes: the command's; 125 when the guest gave none back.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../lib/node-line.js';
import { buildInitramfs } from './initramfs.js';
import { laneByName, laneFiles, moduleOrder } from './lanes.js';

/** How much slower than this host a lane runs test code (TCG), for tests' waits. */
const TIME_SCALE = { 'x64-6.1': 10, 'arm64-6.1': 20 };

/** Environment passed into the guest from the host's, besides what the harness sets. */
const PASSED = /^(CI|CORE_PROCESS_\w+|VITEST_\w+|NO_COLOR|FORCE_COLOR|NODE_OPTIONS|STRESS_\w+)$/;

const sq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/**
 * The official Node of the host's version for a foreign lane's architecture (fetched into
 * the cache by scripts/vm/fetch.js), or null when not fetched.
 */
export function guestNode(lane) {
  if (!lane.foreign) return process.execPath;
  const bin = path.join(
    cacheDir(),
    `node-linux-${lane.debArch}-${process.versions.node}`,
    'package',
    'bin',
    'node',
  );
  return existsSync(bin) ? bin : null;
}

/**
 * What a lane lacks on this host, with how to get each; [] when it can boot.
 * @example missingFor(laneByName('x64')) // ['qemu-system-x86_64 (apt-get install qemu-system-x86)']
 */
export function missingFor(lane) {
  const files = laneFiles(lane);
  const missing = files.ok ? [] : [...files.missing];
  if (lane.foreign && guestNode(lane) === null) {
    missing.push(`node-linux-${lane.debArch}@${process.versions.node} (node scripts/vm/fetch.js)`);
  }
  return missing;
}

/**
 * Boots the lane, runs argv in cwd inside it, powers off.
 * @param {object} o
 * @param {import('./lanes.js').Lane} o.lane
 * @param {string[]} o.argv
 * @param {string} [o.cwd]
 * @param {Record<string, string>} [o.env]  extra environment for the command
 * @param {number} [o.cpus]
 * @param {number} [o.memMiB]
 * @param {number} [o.timeoutSeconds]
 * @param {(chunk: string) => void} [o.onOutput]  the command's output (stdout and stderr) as it comes
 * @param {(chunk: string) => void} [o.onConsole]  the guest's serial console as it comes
 * @returns {Promise<{ code: number | null, seconds: number, cpuSeconds: number, console: string, why?: string, results: Record<string, string> }>}
 *   cpuSeconds: qemu's CPU time, which on an idle 2-core host is about the wall time times 2
 *   results: the files the command wrote into $VM_RESULTS (a directory shared with the host)
 * @example const r = await runInVm({ lane: laneByName('x64'), argv: ['uname', '-r'] }); // r.code 0
 */
export async function runInVm(o) {
  const { lane, argv } = o;
  const files = laneFiles(lane);
  const missing = missingFor(lane);
  if (!files.ok || missing.length > 0)
    throw new Error(`vm: ${lane.name} needs ${missing.join('; ')}`);
  const cwd = o.cwd ?? process.cwd();
  const cpus = o.cpus ?? 2;
  const mem = o.memMiB ?? (lane.foreign ? 2048 : 4096);
  const out = mkdtempSync(path.join(os.tmpdir(), `core-process-vm-${lane.name}-`));
  const started = Date.now();
  try {
    mkdirSync(path.join(out, 'results'));
    const initrd = path.join(out, 'initrd.cpio');
    writeFileSync(initrd, buildInitramfs(files, moduleOrder(files)));
    const node = guestNode(lane);
    writeFileSync(
      path.join(out, 'vm.env'),
      `VM_LANE=${sq(lane.name)}\nVM_FOREIGN=${lane.foreign ? 1 : ''}\nVM_NODE=${sq(node)}\nVM_CWD=${sq(cwd)}\n`,
    );
    const env = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => PASSED.test(k))),
      HOME: process.env.HOME ?? '/root',
      PATH: lane.foreign
        ? '/usr/bin:/usr/sbin:/bin:/sbin'
        : [path.dirname(process.execPath), process.env.PATH].filter(Boolean).join(':'),
      ...(lane.foreign ? { LD_LIBRARY_PATH: '/usr/aarch64-linux-gnu/lib' } : {}),
      CORE_PROCESS_VM: lane.name,
      VM_RESULTS: '/run/vm/out/results',
      CORE_PROCESS_TEST_TIME_SCALE: String(TIME_SCALE[lane.name] ?? 5),
      ...o.env,
    };
    writeFileSync(
      path.join(out, 'cmd.sh'),
      [
        ...Object.entries(env).map(([k, v]) => `export ${k}=${sq(v)}`),
        `cd ${sq(cwd)} || exit 125`,
        `exec ${argv.map(sq).join(' ')}`,
        '',
      ].join('\n'),
    );
    const consoleFile = path.join(out, 'console');
    const args = [
      ...lane.machine,
      '-accel',
      'tcg,thread=multi',
      '-smp',
      String(cpus),
      '-m',
      String(mem),
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-monitor',
      'none',
      '-serial',
      `file:${consoleFile}`,
      '-no-reboot',
      '-kernel',
      files.kernel,
      '-initrd',
      initrd,
      '-append',
      `console=${lane.console} loglevel=4 panic=-1 cgroup_no_v1=all`,
      '-fsdev',
      'local,id=hostroot,path=/,readonly=on,security_model=none,multidevs=remap',
      '-device',
      'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
      '-fsdev',
      `local,id=vmout,path=${out},security_model=none`,
      '-device',
      'virtio-9p-pci,fsdev=vmout,mount_tag=vmout',
      '-device',
      'virtio-rng-pci',
    ];
    const qemu = spawn(files.qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let qemuErr = '';
    qemu.stderr.setEncoding('utf8').on('data', (d) => {
      qemuErr += d;
    });
    const tails = [
      { file: path.join(out, 'log'), fd: -1, sink: o.onOutput },
      { file: consoleFile, fd: -1, sink: o.onConsole },
    ];
    const buf = Buffer.alloc(1 << 16);
    // qemu's CPU time (utime + stime, /proc/<pid>/stat fields 14-15), the last sample before
    // it exits: the guest's cost independent of how loaded the host is.
    let cpuTicks = 0;
    const pump = () => {
      try {
        const stat = readFileSync(`/proc/${qemu.pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        cpuTicks = Number(f[11]) + Number(f[12]);
      } catch {
        // exited
      }
      for (const t of tails) {
        if (t.fd < 0) {
          if (!existsSync(t.file)) continue;
          t.fd = openSync(t.file, 'r');
        }
        for (;;) {
          const n = readSync(t.fd, buf);
          if (n <= 0) break;
          t.sink?.(buf.toString('utf8', 0, n));
        }
      }
    };
    const timer = setInterval(pump, 200);
    let why;
    const limit = setTimeout(
      () => {
        why = `timed out after ${o.timeoutSeconds ?? 1800} s`;
        qemu.kill('SIGKILL');
      },
      (o.timeoutSeconds ?? 1800) * 1000,
    );
    const qemuCode = await new Promise((resolve) => qemu.on('close', resolve));
    clearTimeout(limit);
    clearInterval(timer);
    pump();
    for (const t of tails) if (t.fd >= 0) closeSync(t.fd);
    const resultsDir = path.join(out, 'results');
    const results = Object.fromEntries(
      (existsSync(resultsDir) ? readdirSync(resultsDir) : []).map((f) => [
        f,
        readFileSync(path.join(resultsDir, f), 'utf8'),
      ]),
    );
    const rcFile = path.join(out, 'rc');
    const code = existsSync(rcFile) ? Number(readFileSync(rcFile, 'utf8').trim()) : null;
    if (code === null && !why) {
      why = `the guest stopped without an exit code (qemu exit ${qemuCode}${qemuErr ? `: ${qemuErr.trim()}` : ''})`;
    }
    const consoleText = existsSync(consoleFile) ? readFileSync(consoleFile, 'utf8') : '';
    const cpuSeconds = cpuTicks / 100; // USER_HZ is 100 on Linux
    return {
      code,
      seconds: (Date.now() - started) / 1000,
      cpuSeconds,
      console: consoleText,
      why,
      results,
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf('--');
  const opts = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const value = (flag) => {
    const i = opts.indexOf(flag);
    return i < 0 ? undefined : opts[i + 1];
  };
  const env = {};
  opts.forEach((a, i) => {
    if (a === '--env') {
      const kv = opts[i + 1] ?? '';
      env[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
    }
  });
  if (!value('--lane') || command.length === 0) {
    console.error(
      'usage: node scripts/vm/run.js --lane x64|arm64 [--cpus N] [--mem MiB] [--timeout S] [--env K=V] [--verbose] -- <command>',
    );
    process.exit(2);
  }
  const lane = laneByName(value('--lane'));
  const missing = missingFor(lane);
  if (missing.length > 0) {
    console.error(`vm: ${lane.name} cannot boot here: missing ${missing.join('; ')}`);
    process.exit(process.env.CI ? 1 : 0);
  }
  const verbose = opts.includes('--verbose');
  const r = await runInVm({
    lane,
    argv: command,
    env,
    cpus: value('--cpus') ? Number(value('--cpus')) : undefined,
    memMiB: value('--mem') ? Number(value('--mem')) : undefined,
    timeoutSeconds: value('--timeout') ? Number(value('--timeout')) : undefined,
    onOutput: (s) => process.stdout.write(s),
    onConsole: verbose ? (s) => process.stderr.write(s.replace(/\r\n/g, '\n')) : undefined,
  });
  if (r.code === null) {
    if (!verbose) process.stderr.write(r.console.replace(/\r\n/g, '\n'));
    console.error(`vm: ${lane.name}: ${r.why} [${r.seconds.toFixed(1)} s]`);
    process.exit(125);
  }
  console.error(
    `vm: ${lane.name}: exit ${r.code} [${r.seconds.toFixed(1)} s, qemu CPU ${r.cpuSeconds.toFixed(0)} s]`,
  );
  process.exit(r.code);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
