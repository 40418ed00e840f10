// Scenario 13: the drop-in facade (@core/process/child_process) against node:child_process,
// same calls and same options, for spawn+close (default stdio: three pipes), exec, execFile,
// execSync and fork + one IPC round trip; first as is, then while the parent holds 1 GiB of
// touched memory (where libuv's fork() copies page tables on every spawn, scenario 2). Then
// handle passing: a listening net.Server sent to a running child per round trip.
import * as nodeCp from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { getGc, TRUE_BIN } from '../lib/proc.js';
import { hrNow, nsSince, roundRobin } from '../lib/runner.js';
import { median } from '../lib/stats.js';

export const id = 13;
export const title =
  'child_process facade vs node:child_process (spawn, exec, execFile, execSync, fork)';

const FACADE = new URL('../../dist/child_process/index.js', import.meta.url);
const ECHO = fileURLToPath(new URL('../fixtures/ipc-echo.cjs', import.meta.url));
const HANDLE_ECHO = fileURLToPath(new URL('../fixtures/handle-echo.cjs', import.meta.url));
const HOLD_MIB = 1024;

const waitEvent = (emitter, name) => new Promise((resolve) => emitter.once(name, resolve));

/** One operation per call, written once against whichever module is passed in. */
const OPS = {
  'spawn+close': async (cp) => {
    const child = cp.spawn(TRUE_BIN);
    child.stdout.resume();
    child.stderr.resume();
    await waitEvent(child, 'close');
  },
  exec: (cp) =>
    new Promise((resolve, reject) => cp.exec('true', (err) => (err ? reject(err) : resolve()))),
  execFile: (cp) =>
    new Promise((resolve, reject) =>
      cp.execFile(TRUE_BIN, (err) => (err ? reject(err) : resolve())),
    ),
  execSync: async (cp) => {
    cp.execSync('true');
  },
  'fork+rtt': async (cp) => {
    const child = cp.fork(ECHO, [], { execArgv: [] });
    const reply = waitEvent(child, 'message');
    child.send({ ping: 1 });
    await reply;
    child.disconnect();
    await waitEvent(child, 'exit');
  },
};

/**
 * Handle round trips against one running child per module: send(msg, server), then the
 * child's reply (the ACK went before it). The child and the server live for the whole run.
 */
function handleOps() {
  const children = new Map();
  let server = null;
  const op = async (cp) => {
    if (!server) {
      server = net.createServer();
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    let child = children.get(cp);
    if (!child) {
      child = cp.fork(HANDLE_ECHO, [], { execArgv: [] });
      children.set(cp, child);
    }
    const reply = waitEvent(child, 'message');
    child.send('h', server);
    await reply;
  };
  const close = async () => {
    for (const child of children.values()) {
      const exited = waitEvent(child, 'exit');
      child.disconnect();
      await exited;
    }
    server?.close();
  };
  return { op, close };
}

async function measure(ctx, facade, { rounds, counts, label, ops = OPS }) {
  const rows = [];
  for (const [op, fn] of Object.entries(ops)) {
    const n = counts[op];
    const contender = (name, mod) => ({
      name,
      run: async () => {
        const t0 = hrNow();
        for (let i = 0; i < n; i++) await fn(mod);
        return n / (nsSince(t0) / 1e9);
      },
    });
    const contenders = [contender('node', nodeCp), contender('facade', facade)];
    for (const c of contenders) await c.run(); // warm-up: module code, JIT, first sockets
    ctx.log(`  ${op}${label}:`);
    const { samples, errors } = await roundRobin(contenders, { rounds, log: ctx.log });
    const nodeOps = median(samples.node ?? []);
    const facadeOps = median(samples.facade ?? []);
    rows.push({
      impl: `${op}${label}`,
      node: nodeOps,
      facade: facadeOps,
      speedup: facadeOps / nodeOps,
      error: Object.entries(errors)
        .map(([k, v]) => `${k}: ${v}`)
        .join('; '),
    });
  }
  return rows;
}

export async function run(ctx) {
  if (!existsSync(fileURLToPath(FACADE))) {
    return {
      rows: [],
      errors: { facade: 'dist/child_process/index.js not built (npm run build)' },
    };
  }
  const facade = await import(FACADE.href);
  const rounds = ctx.quick ? 1 : 3;
  const counts = ctx.quick
    ? { 'spawn+close': 20, exec: 10, execFile: 10, execSync: 10, 'fork+rtt': 2 }
    : { 'spawn+close': 60, exec: 40, execFile: 40, execSync: 40, 'fork+rtt': 8 };
  const rows = await measure(ctx, facade, { rounds, counts, label: '' });
  const handles = handleOps();
  try {
    rows.push(
      ...(await measure(ctx, facade, {
        rounds,
        counts: { 'handle rtt': ctx.quick ? 50 : 300 },
        label: '',
        ops: { 'handle rtt': handles.op },
      })),
    );
  } finally {
    await handles.close();
  }

  const rssBefore = process.memoryUsage().rss;
  let held = Buffer.allocUnsafeSlow(HOLD_MIB * 1024 * 1024);
  for (let off = 0; off < held.length; off += 4096) held[off] = 1;
  ctx.log(
    `  holding ${((process.memoryUsage().rss - rssBefore) / 2 ** 20).toFixed(0)} MiB more RSS`,
  );
  try {
    const heavy = ctx.quick
      ? { 'spawn+close': 10, exec: 5, execFile: 5, execSync: 5, 'fork+rtt': 2 }
      : { 'spawn+close': 30, exec: 20, execFile: 20, execSync: 20, 'fork+rtt': 6 };
    rows.push(...(await measure(ctx, facade, { rounds, counts: heavy, label: ' (1 GiB held)' })));
  } finally {
    ctx.log(`  (held buffer checksum ${held[held.length - 4096]})`);
    held = null;
    getGc()();
  }

  const row = (name) => rows.find((r) => r.impl === name);
  const check = (text, names, min) => {
    const found = names.map(row).filter(Boolean);
    const worst = Math.min(...found.map((r) => r.speedup));
    return {
      text,
      pass: found.length === names.length && worst >= min,
      measured: found.map((r) => `${r.impl} ${r.speedup.toFixed(2)}x`).join(', '),
    };
  };
  const all = rows.map((r) => r.impl);
  return {
    unit: 'ops/s',
    higherIsBetter: true,
    params: { rounds, counts, holdMiB: HOLD_MIB, handleRoundTrips: ctx.quick ? 50 : 300 },
    columns: [
      { key: 'node', title: 'node:child_process ops/s' },
      { key: 'facade', title: 'facade ops/s' },
      { key: 'speedup', title: 'facade / node' },
      { key: 'error', title: 'errors', kind: 'text' },
    ],
    rows,
    errors: {},
    targets: [
      check('never slower than node:child_process', all, 1),
      check('spawn ≥ 2.5x', ['spawn+close'], 2.5),
      check(
        'with 1 GiB held ≥ 5x (spawn, exec, execFile, execSync)',
        ['spawn+close', 'exec', 'execFile', 'execSync'].map((n) => `${n} (1 GiB held)`),
        5,
      ),
      check('fork round trip ≥ 1x', ['fork+rtt', 'fork+rtt (1 GiB held)'], 1),
      check('handle-passing round trip ≥ 1x', ['handle rtt'], 1),
    ],
  };
}
