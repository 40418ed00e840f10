// Process-level helpers shared by scenarios: sleeping, forcing a GC in the main bench process,
// and waiting (outside any timed section) until a child is really running its target program.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';

export { delay };

export const TRUE_BIN = '/bin/true';
export const SLEEP_BIN = '/bin/sleep';

let gcFn;
/**
 * Returns a function that runs a full GC. Uses the exposed `gc` when node was started with
 * --expose-gc, otherwise enables the flag at runtime and grabs `gc` from a fresh context.
 */
export function getGc() {
  if (gcFn) return gcFn;
  if (typeof globalThis.gc === 'function') {
    gcFn = globalThis.gc;
  } else {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc');
    } catch {
      gcFn = () => {};
    }
  }
  return gcFn;
}

/** `/proc/PID/stat` → { comm, state } or null when the process is gone. */
export function procStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  return { comm: text.slice(open + 1, close), state: text.charAt(close + 2) };
}

/**
 * Resolves once PID runs `comm` (the program's basename, 15 chars max) and is asleep in the
 * kernel (state S), i.e. the exec is done and the child is parked in nanosleep/pause.
 */
export async function waitSleeping(pid, comm, timeoutMs = 5000) {
  const want = comm.slice(0, 15);
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const st = procStat(pid);
    if (st && st.comm === want && st.state === 'S') return;
    if (performance.now() > deadline) {
      throw new Error(`pid ${pid} never reached sleeping ${want} (last: ${JSON.stringify(st)})`);
    }
    await delay(1);
  }
}

/** True while PID exists and is not a zombie. */
export function isAlive(pid) {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

/** Parses a CPU list such as "0-3,6" into numbers. */
function parseCpuList(list) {
  const cpus = [];
  for (const part of list.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    for (let c = a; c <= b; c++) cpus.push(c);
  }
  return cpus;
}

/**
 * This process's CPU affinity via taskset(1): { list: '0,1', cpus: [0, 1] }, or { error } when
 * taskset is not usable.
 */
export function cpuAffinity() {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
    const list = out.trim().split(':').pop().trim();
    return { list, cpus: parseCpuList(list) };
  } catch (err) {
    return { error: `taskset not usable (${err.code ?? err.message})` };
  }
}

/**
 * Pins every thread of this process (and so every child spawned meanwhile) to `cpu`. Returns a
 * function that restores the affinity list `restoreList`.
 */
export function pinSelf(cpu, restoreList) {
  const pid = String(process.pid);
  execFileSync('taskset', ['-a', '-c', '-p', String(cpu), pid], { stdio: 'ignore' });
  return () => execFileSync('taskset', ['-a', '-c', '-p', restoreList, pid], { stdio: 'ignore' });
}
