/**
 * The worker side of createThread, and the protocol it speaks with the parent.
 *
 * The bootstrap is plain JavaScript run with `new Worker(source, { eval: true })`: lib/ runs
 * from TypeScript sources under vitest and from compiled dist/ when published, and an eval'd
 * CommonJS script works the same in both (it can `require` the addon by absolute path).
 *
 * Order inside the new thread: register the tid, name it, apply affinity, nice and scheduler
 * to the calling thread (id 0), report `ready` (or `failed` with the first errno), then wait
 * for the parent's `start`. Only then is the user's module imported, so no user code, not
 * even the module's top level, runs unpinned or unprioritised, and the parent holds the
 * handle before anything of the user's runs.
 */
import type { MessagePort } from 'node:worker_threads';
import type { NativePolicy } from '../native.js';

/** What createThread passes as workerData. */
export interface BootstrapData {
  addonPath: string;
  moduleHref: string;
  exportName: string;
  /** The caller named the export: a missing or non-function export is an error, not a body. */
  explicitExport: boolean;
  /** As the caller gave it; what the start function receives. */
  name: string | undefined;
  /** `name` cut to the kernel's 15 bytes on a character boundary, for PR_SET_NAME. */
  osName: string | undefined;
  data: unknown;
  affinity?: number[];
  /**
   * resetOnFork: SCHED_RESET_ON_FORK, set for realtime policies so what this thread spawns or
   * forks starts at SCHED_OTHER rather than inheriting FIFO 50; those threads also get their
   * stack prefaulted (see prefaultStack).
   */
  scheduler?: {
    policy: NativePolicy | 'deadline';
    priority: number;
    resetOnFork?: boolean;
    /** policy 'deadline': sched_setattr with these (ns). */
    runtimeNs?: number;
    deadlineNs?: number;
    periodNs?: number;
  };
  nice?: number;
  /**
   * The process's baseline for whatever the caller did not ask for: the new thread would
   * otherwise inherit the creating thread's settings (a realtime main thread would make every
   * helper thread realtime), so those are put back where the process started, as far as the
   * process may.
   */
  baseline: {
    affinity?: number[];
    scheduler?: { policy: NativePolicy; priority: number };
    nice?: number;
  };
  control: MessagePort;
}

/** Which setting a `failed` report is about. */
export type BootstrapStep = 'name' | 'affinity' | 'scheduler' | 'nice';

/** Worker -> parent, on the control port. */
export type ControlMessage =
  | { type: 'ready'; tid: number }
  | {
      type: 'failed';
      tid: number;
      step: BootstrapStep;
      errno: number;
      syscall: string;
    }
  | { type: 'result'; value: unknown }
  /** `props`: the error's own enumerable properties (`code`...), which cloning drops. */
  | { type: 'error'; error: unknown; props?: Record<string, unknown> };

/** Parent -> worker, on the control port: user code may run now. */
export interface StartMessage {
  type: 'start';
}

export const BOOTSTRAP_SOURCE = `'use strict';
const wt = require('node:worker_threads');
const {
  addonPath, moduleHref, exportName, explicitExport, name, osName, data,
  affinity, scheduler, nice, baseline, control,
} = wt.workerData;

// User code sees its own data as workerData, in CommonJS and in ESM alike, and never this
// protocol's port: a stray message on it would be taken for the thread's result.
wt.workerData = data;
require('node:module').syncBuiltinESMExports();

const addon = require(addonPath);
const tid = addon.registerThread();

function sameCpus(a, b) {
  return Array.isArray(a) && a.length === b.length && a.every((c, i) => c === b[i]);
}

// Each setter returns 0 or { errno, syscall }. A setting the caller asked for must succeed:
// its failure ends the bootstrap. A reset to the process baseline is best effort, as for
// spawned children: an unprivileged thread at nice 10 cannot give its new thread nice 0.
function prepare() {
  let r;
  if (osName !== undefined && (r = addon.setThreadName(osName)) !== 0) return ['name', r];
  if (affinity !== undefined) {
    if ((r = addon.setAffinity(0, affinity, false)) !== 0) return ['affinity', r];
  } else if (baseline.affinity !== undefined && !sameCpus(addon.getAffinity(0), baseline.affinity)) {
    addon.setAffinity(0, baseline.affinity, false);
  }
  // Nice before the policy, as lib/sched's applyPriority does.
  if (nice !== undefined) {
    if ((r = addon.setNice(0, nice, false)) !== 0) return ['nice', r];
  } else if (baseline.nice !== undefined && addon.getNice(0) !== baseline.nice) {
    addon.setNice(0, baseline.nice, false);
  }
  if (scheduler !== undefined) {
    const resetOnFork = scheduler.resetOnFork === true;
    r =
      scheduler.policy === 'deadline'
        ? addon.setDeadline(0, scheduler.runtimeNs, scheduler.deadlineNs, scheduler.periodNs, resetOnFork, false)
        : addon.setScheduler(0, scheduler.policy, scheduler.priority, resetOnFork, false);
    if (r !== 0) return ['scheduler', r];
    // A realtime thread's first deep call must not page-fault: touch 256 KiB of its stack
    // now, as cyclictest does (lockMemory then keeps it resident).
    if (resetOnFork) addon.prefaultStack(256 * 1024);
  } else if (baseline.scheduler !== undefined) {
    const cur = addon.getScheduler(0);
    if (cur.policy !== baseline.scheduler.policy || cur.priority !== baseline.scheduler.priority) {
      addon.setScheduler(0, baseline.scheduler.policy, baseline.scheduler.priority, false, false);
    }
  }
  return null;
}

function post(message) {
  try {
    control.postMessage(message);
    return null;
  } catch (e) {
    return e;
  }
}

function ownProps(e) {
  if (e === null || typeof e !== 'object') return undefined;
  const props = {};
  for (const [k, v] of Object.entries(e)) {
    try {
      props[k] = structuredClone(v);
    } catch {}
  }
  return props;
}

async function run() {
  // From here the thread lives as long as its own work does: a start function whose promise
  // never settles, with nothing else pending, ends the thread as it would end a plain worker.
  control.unref();
  let value;
  let failure;
  let threw = false;
  try {
    const mod = await import(moduleHref);
    let start;
    if (explicitExport) {
      start = mod[exportName];
      if (typeof start !== 'function') {
        throw new TypeError(
          'createThread: export ' + JSON.stringify(exportName) + ' of ' + moduleHref +
            ' is not a function (' + (start === undefined ? 'there is no such export' : 'it is a ' + typeof start) + ')',
        );
      }
    } else if (typeof mod.default === 'function') {
      start = mod.default;
    }
    // No start function: the module body was the thread, and it has run.
    value = start === undefined ? undefined : await start({ tid, name, data });
  } catch (e) {
    threw = true;
    failure = e;
  }
  if (!threw) {
    const e = post({ type: 'result', value });
    if (e !== null) {
      threw = true;
      failure = new TypeError(
        'the start function of thread ' + (name ?? 'tid ' + tid) +
          ' returned a value that cannot be sent to the parent thread: ' + e.message,
      );
    }
  }
  if (threw) {
    // As an uncaught exception would: the thread's exit code says it failed.
    if (process.exitCode === undefined) process.exitCode = 1;
    if (post({ type: 'error', error: failure, props: ownProps(failure) }) !== null) {
      post({ type: 'error', error: new Error(String(failure)) });
    }
  }
  control.close();
}

const failed = prepare();
if (failed !== null) {
  const [step, r] = failed;
  control.postMessage({ type: 'failed', tid, step, errno: r.errno, syscall: r.syscall });
  control.close();
} else {
  control.once('message', (m) => {
    if (m && m.type === 'start') run();
  });
  control.postMessage({ type: 'ready', tid });
}
`;
