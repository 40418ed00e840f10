/**
 * createThread: a worker_threads Worker that is named, pinned and prioritised by its own OS
 * thread before any user code runs, and whose start function's return value is its result.
 * Options are validated here, before the Worker exists; the settings are applied inside the
 * new thread (see bootstrap.ts), because only a thread can name itself and because its tid
 * is not known until it runs.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { describe, errnoName } from '../errors.js';
import { addonPath, native } from '../native.js';
import { checkCpus } from '../sched/cpus.js';
import { deadlineFailure } from '../sched/deadline.js';
import { schedFailure } from '../sched/errors.js';
import { type ResolvedPriority, resolvePriority, type ThreadPriority } from '../sched/priority.js';
import {
  BOOTSTRAP_SOURCE,
  type BootstrapData,
  type ControlMessage,
  type StartMessage,
} from './bootstrap.js';
import { invalidThreadInput, ThreadError, toThreadError, withOp } from './errors.js';
import { ThreadHandle, threadLabel } from './handle.js';

/** What the start function receives. */
export interface ThreadContext<D = unknown> {
  /** The OS thread id of this thread. */
  tid: number;
  name: string | undefined;
  /** `options.data`, structured-cloned into this thread (also its `workerData`). */
  data: D;
}

export interface ThreadOptions<D = unknown> {
  /**
   * The thread's name: the kernel's (`/proc/<pid>/task/<tid>/comm`, `ps -L`, `top -H`; the
   * first 15 bytes of it) and the one passed to the start function.
   */
  name?: string;
  /** Online CPU ids the thread may run on, in force before its module is loaded. */
  affinity?: readonly number[];
  /** 'low' | 'normal' | 'high' | 'realtime' | { policy, priority?, nice? }. */
  priority?: ThreadPriority;
  /** Stack size in bytes, at least 1 MiB (Node reserves part of it for its own use). */
  stackSize?: number;
  /** Does not keep the process alive; cannot be joined (its `exited` still settles). */
  detached?: boolean;
  /** Passed to the start function; structured-cloned. */
  data?: D;
  /**
   * The export to call with the ThreadContext; default 'default'. Without this option a
   * module with no default function is itself the thread: its top level runs, value undefined.
   */
  export?: string;
}

// Below this Node's worker cannot even boot: it keeps 192 KiB of the stack for itself, and
// V8 needs the rest for the bootstrap and the user's module loading.
const MIN_STACK_SIZE = 1 << 20;
// PR_SET_NAME keeps 16 bytes with the terminating NUL.
const KERNEL_NAME_BYTES = 15;

interface Plan {
  href: string;
  name: string | undefined;
  osName: string | undefined;
  affinity: number[] | undefined;
  priority: ResolvedPriority | undefined;
  stackSizeMb: number | undefined;
  detached: boolean;
  exportName: string;
  explicitExport: boolean;
}

/**
 * Starts `module` on a new thread and resolves once that thread has its name, affinity and
 * priority, before the module is loaded. The start function (the `export`, default the
 * default export) gets `{ tid, name, data }`; what it returns is the ThreadResult's `value`.
 * Settings not asked for are those the process started with, not the creating thread's.
 *
 * Rejects ThreadError: InvalidAffinity for a bad CPU set, CreationFailed for other bad
 * options (with `field`) or a thread that could not start, PermissionDenied saying which
 * capability or limit is missing (e.g. 'realtime' without CAP_SYS_NICE / RLIMIT_RTPRIO).
 * @example
 * const t = await createThread(new URL('./rx.js', import.meta.url), {
 *   name: 'rx', affinity: [1], priority: 'realtime', data: { port: 9000 },
 * });
 * console.log(t.tid); // the same id `chrt -p` and `taskset -p` take
 * const { value } = await joinThread(t);
 */
export async function createThread<D = unknown>(
  module: string | URL,
  options: ThreadOptions<D> = {},
): Promise<ThreadHandle> {
  const plan = prepare(module, options);
  const { port1, port2 } = new MessageChannel();
  const workerData: BootstrapData = {
    addonPath,
    moduleHref: plan.href,
    exportName: plan.exportName,
    explicitExport: plan.explicitExport,
    name: plan.name,
    osName: plan.osName,
    data: options.data,
    baseline: baseline(plan),
    control: port2,
  };
  if (plan.affinity !== undefined) workerData.affinity = plan.affinity;
  if (plan.priority !== undefined) {
    const { policy, priority, deadline } = plan.priority;
    // Reset-on-fork for realtime threads: what they spawn or fork does not inherit FIFO.
    const resetOnFork = policy === 'fifo' || policy === 'rr';
    workerData.scheduler =
      deadline === undefined
        ? { policy, priority, resetOnFork }
        : {
            policy,
            priority,
            resetOnFork: deadline.resetOnFork,
            runtimeNs: deadline.runtimeNs,
            deadlineNs: deadline.deadlineNs,
            periodNs: deadline.periodNs,
          };
    if (plan.priority.nice !== undefined) workerData.nice = plan.priority.nice;
  }
  let worker: Worker;
  try {
    worker = new Worker(BOOTSTRAP_SOURCE, {
      eval: true,
      workerData,
      transferList: [port2],
      ...(plan.name === undefined ? {} : { name: plan.name }),
      ...(plan.stackSizeMb === undefined
        ? {}
        : { resourceLimits: { stackSizeMb: plan.stackSizeMb } }),
    });
  } catch (e) {
    port1.close();
    const clone = e instanceof Error && e.name === 'DataCloneError';
    throw new ThreadError(
      clone ? 'InvalidArgument' : 'CreationFailed',
      clone
        ? `createThread: data cannot be sent to a thread: ${e.message}`
        : `createThread(${plan.href}): ${e instanceof Error ? e.message : String(e)}`,
      { field: clone ? 'data' : undefined, code: clone ? 'EINVAL' : undefined, cause: e },
    );
  }
  return started(worker, port1, plan);
}

function started(worker: Worker, port: MessagePort, plan: Plan): Promise<ThreadHandle> {
  return new Promise<ThreadHandle>((resolve, reject) => {
    const off = () => {
      port.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    // Rejects only once the thread is gone: a failed createThread leaves nothing running.
    const fail = (error: ThreadError) => {
      off();
      worker.on('error', () => {});
      port.close();
      worker.terminate().then(
        () => reject(error),
        () => reject(error),
      );
    };
    const onMessage = (m: ControlMessage) => {
      if (m.type === 'ready') {
        const handle = new ThreadHandle(worker, port, m.tid, plan.name, plan.detached);
        off();
        resolve(handle);
        // A turn later, so the code after `await createThread(...)` runs before the thread's
        // module does: whatever the caller records about the handle is there first.
        setImmediate(() => port.postMessage({ type: 'start' } satisfies StartMessage));
      } else if (m.type === 'failed') {
        fail(setupError(m, plan));
      }
    };
    const onError = (e: Error) => {
      fail(
        new ThreadError(
          'CreationFailed',
          `createThread(${plan.href}): the thread failed while starting: ${e.message}`,
          { cause: e },
        ),
      );
    };
    const onExit = (code: number) => {
      fail(
        new ThreadError(
          'CreationFailed',
          `createThread(${plan.href}): the thread exited (code ${code}) before it was ready`,
        ),
      );
    };
    port.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

const OPTION_OF = { affinity: 'affinity', scheduler: 'priority', nice: 'priority' } as const;

function setupError(m: Extract<ControlMessage, { type: 'failed' }>, plan: Plan): ThreadError {
  const what = threadLabel(plan.name, m.tid);
  const e = { errno: m.errno, syscall: m.syscall };
  if (m.step === 'name') {
    const code = errnoName(m.errno);
    return new ThreadError(
      'CreationFailed',
      `createThread: cannot name ${what} ${describe(plan.osName)}: ${m.syscall} failed (${code})`,
      { code, errno: m.errno, syscall: m.syscall, field: 'name' },
    );
  }
  const p = plan.priority;
  const field = OPTION_OF[m.step];
  const pe =
    m.step === 'affinity'
      ? schedFailure('setAffinity', what, e, { cpus: plan.affinity ?? [], field })
      : m.step === 'scheduler'
        ? p?.deadline !== undefined
          ? deadlineFailure('setScheduler', what, e, p.deadline, {
              cpus: plan.affinity,
              id: m.tid,
              field,
            })
          : schedFailure('setScheduler', what, e, {
              policy: p?.policy,
              priority: p?.priority,
              field,
            })
        : schedFailure('setNice', what, e, { nice: p?.nice, field });
  return withOp('createThread', toThreadError(pe, 'CreationFailed'));
}

/** The process's starting settings for whatever the caller left out. */
function baseline(plan: Plan): BootstrapData['baseline'] {
  const base = native.baseline();
  const out: BootstrapData['baseline'] = {};
  if (plan.affinity === undefined) out.affinity = base.affinity;
  if (plan.priority === undefined) {
    out.scheduler = { policy: base.policy, priority: base.priority };
    out.nice = base.nice;
  } else if (plan.priority.nice === undefined) {
    out.nice = base.nice;
  }
  return out;
}

function prepare(module: unknown, options: unknown): Plan {
  if (options === null || typeof options !== 'object') {
    throw bad('options', describe(options), 'must be an object');
  }
  const o = options as ThreadOptions;
  const href = moduleHref(module);

  let name: string | undefined;
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || o.name.length === 0 || o.name.includes('\0')) {
      throw bad('name', describe(o.name), 'must be a non-empty string without NUL bytes');
    }
    name = o.name;
  }

  let affinity: number[] | undefined;
  let priority: ResolvedPriority | undefined;
  try {
    if (o.affinity !== undefined) affinity = checkCpus('affinity', o.affinity);
    if (o.priority !== undefined) priority = resolvePriority('priority', o.priority);
  } catch (e) {
    throw withOp('createThread', toThreadError(e, 'CreationFailed'));
  }

  let stackSizeMb: number | undefined;
  if (o.stackSize !== undefined) {
    const s = o.stackSize;
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < MIN_STACK_SIZE) {
      throw bad(
        'stackSize',
        describe(s),
        `must be an integer number of bytes >= ${MIN_STACK_SIZE}`,
      );
    }
    stackSizeMb = s / 2 ** 20;
  }

  if (o.detached !== undefined && typeof o.detached !== 'boolean') {
    throw bad('detached', describe(o.detached), 'must be a boolean');
  }

  const explicitExport = o.export !== undefined;
  if (explicitExport && (typeof o.export !== 'string' || o.export.length === 0)) {
    throw bad('export', describe(o.export), 'must be the name of an exported function');
  }

  return {
    href,
    name,
    osName: name === undefined ? undefined : kernelName(name),
    affinity,
    priority,
    stackSizeMb,
    detached: o.detached === true,
    exportName: o.export ?? 'default',
    explicitExport,
  };
}

/**
 * A URL the bootstrap can import(): URLs as they are, paths as file URLs. Relative paths must
 * start with ./ or ../ and mean the working directory, as they do for `new Worker`.
 */
function moduleHref(module: unknown): string {
  let href: string;
  if (module instanceof URL) {
    href = module.href;
  } else if (typeof module === 'string' && /^[a-z][a-z0-9+.-]+:/i.test(module)) {
    try {
      href = new URL(module).href;
    } catch {
      throw bad('module', describe(module), 'is not a valid URL');
    }
  } else if (
    typeof module === 'string' &&
    (path.isAbsolute(module) || module.startsWith('./') || module.startsWith('../'))
  ) {
    href = pathToFileURL(path.resolve(module)).href;
  } else {
    throw bad(
      'module',
      describe(module),
      'must be a URL, an absolute path, or a path starting with ./ or ../',
    );
  }
  // A missing file would otherwise surface only when the thread is already running.
  if (href.startsWith('file:')) {
    const file = fileURLToPath(href);
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch {}
    if (!isFile) {
      throw new ThreadError(
        'NotFound',
        `createThread: module ${describe(file)} does not exist or is not a file`,
        { field: 'module', code: 'ENOENT' },
      );
    }
  }
  return href;
}

/** The longest prefix of `name` within the kernel's 15 bytes that ends on a character. */
function kernelName(name: string): string {
  let out = '';
  let bytes = 0;
  for (const ch of name) {
    bytes += Buffer.byteLength(ch);
    if (bytes > KERNEL_NAME_BYTES) break;
    out += ch;
  }
  return out;
}

function bad(field: string, value: string, rule: string): ThreadError {
  return invalidThreadInput('createThread', field, value, rule);
}
