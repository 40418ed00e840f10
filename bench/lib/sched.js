// Scheduling helpers for scenarios 8-10: finding tools on PATH, what the kernel says a thread's
// policy / priority / affinity is (/proc), parsing cyclictest's histogram, and a stress-ng CPU
// load that is killed (with its whole process group) however the bench ends.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { delay } from './proc.js';

/** Absolute path of an executable on PATH, or null. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return null;
}

const POLICIES = { 0: 'SCHED_OTHER', 1: 'SCHED_FIFO', 2: 'SCHED_RR', 3: 'SCHED_BATCH' };
Object.assign(POLICIES, { 5: 'SCHED_IDLE', 6: 'SCHED_DEADLINE' });

/**
 * What the kernel reports for thread `tid` of process `pid`: { policy: 'SCHED_FIFO', rtPriority,
 * nice, cpus: '1' (Cpus_allowed_list), lastCpu }, or { error } when it cannot be read.
 */
export function threadSched(tid, pid = process.pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'latin1');
    const cpus = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? '?';
    return {
      policy: POLICIES[f[38]] ?? `policy ${f[38]}`,
      rtPriority: Number(f[37]),
      nice: Number(f[16]),
      cpus,
      lastCpu: Number(f[36]),
    };
  } catch (err) {
    return { error: `reading /proc/${pid}/task/${tid}: ${err.code ?? err.message}` };
  }
}

/** 'SCHED_FIFO 50, nice 0, cpus 1' */
export function schedText(s) {
  if (s.error) return s.error;
  const prio = s.rtPriority ? ` ${s.rtPriority}` : '';
  return `${s.policy}${prio}, nice ${s.nice}, cpus ${s.cpus}`;
}

/**
 * Parses `cyclictest -q -h US` output for one thread: per-µs bucket counts (bucket k holds
 * latencies in [k, k+1) µs: cyclictest truncates to µs) plus overflows (≥ US µs, exact values
 * unknown) and cyclictest's own min / avg / max. Returns { samples: sorted Float64Array in µs
 * (each overflow as US, a lower bound), overflows, min, avg, max }.
 */
export function parseCyclictestHistogram(text, histMaxUs) {
  const counts = [];
  const summary = { overflows: 0, min: Number.NaN, avg: Number.NaN, max: Number.NaN };
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(\d+)\s*$/.exec(line);
    if (m) {
      if (m[2] !== '000000') counts.push([Number(m[1]), Number(m[2])]);
      continue;
    }
    const h = /^# (Max|Min|Avg) Latencies:\s*(\d+)/.exec(line);
    if (h) summary[h[1].toLowerCase()] = Number(h[2]);
    const o = /^# Histogram Overflows:\s*(\d+)/.exec(line);
    if (o) summary.overflows = Number(o[1]);
  }
  const inHist = counts.reduce((a, [, c]) => a + c, 0);
  const n = inHist + summary.overflows;
  if (!n) throw new Error(`no samples in cyclictest output: ${text.slice(0, 300)}`);
  const samples = new Float64Array(n);
  let i = 0;
  for (const [us, c] of counts.sort((a, b) => a[0] - b[0])) {
    samples.fill(us, i, i + c);
    i += c;
  }
  samples.fill(histMaxUs, i, n);
  return { samples, ...summary };
}

// ---- stress-ng load ------------------------------------------------------------------------

/** Processes (pids) whose process group is `pgid`, from /proc. */
function groupMembers(pgid) {
  const out = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z') out.push(Number(name));
    } catch {}
  }
  return out;
}

function killGroup(pgid, sig) {
  try {
    process.kill(-pgid, sig);
  } catch {}
}

/**
 * Starts `stress-ng --cpu N --timeout S` in its own process group and waits `warmMs`.
 * Returns { stop(): Promise<void>, desc } — stop() kills the group (SIGTERM, then SIGKILL) and
 * checks that nothing of it survives. Until then, exit, SIGINT, SIGTERM and SIGHUP of the bench
 * kill the group too; `timeoutS` is the last resort if the bench itself is SIGKILLed.
 */
export async function startCpuLoad({ bin, workers, timeoutS, warmMs }) {
  const args = ['--cpu', String(workers), '--timeout', `${Math.ceil(timeoutS)}s`, '--quiet'];
  const child = spawn(bin, args, { detached: true, stdio: 'ignore' });
  const pgid = child.pid;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const errored = new Promise((resolve) => child.once('error', resolve));
  const onExit = () => killGroup(pgid, 'SIGKILL');
  const onSignal = (sig) => {
    killGroup(pgid, 'SIGKILL');
    detach();
    process.kill(process.pid, sig); // default action now that our handler is gone
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  function detach() {
    process.off('exit', onExit);
    for (const s of signals) process.off(s, onSignal);
  }
  process.on('exit', onExit);
  for (const s of signals) process.on(s, onSignal);

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    killGroup(pgid, 'SIGTERM');
    await Promise.race([exited, delay(2000)]);
    for (let i = 0; i < 50 && groupMembers(pgid).length; i++) {
      killGroup(pgid, 'SIGKILL');
      await delay(20);
    }
    detach();
    const left = groupMembers(pgid);
    if (left.length) throw new Error(`stress-ng processes survived SIGKILL: ${left.join(' ')}`);
  }

  try {
    const first = await Promise.race([
      delay(warmMs).then(() => ({ warm: true })),
      exited.then((code) => ({ code })),
      errored.then((error) => ({ error })),
    ]);
    if (first.error) throw first.error;
    if (!first.warm) throw new Error(`stress-ng exited during warm-up (code ${first.code})`);
    const workersRunning = groupMembers(pgid).length - 1;
    if (workersRunning < workers) {
      throw new Error(`stress-ng runs ${workersRunning} of ${workers} CPU workers after warm-up`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop, pgid, desc: `${bin.split('/').pop()} ${args.join(' ')}` };
}

// ---- host steal time -----------------------------------------------------------------------

let clockTicks;
/** Per-CPU steal time so far, in ms (/proc/stat: time the hypervisor ran something else). */
export function stealMs() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  const out = {};
  try {
    for (const line of readFileSync('/proc/stat', 'latin1').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (m) out[m[1]] = (Number(m[2].split(/\s+/)[7]) * 1000) / clockTicks;
    }
  } catch {}
  return out;
}
