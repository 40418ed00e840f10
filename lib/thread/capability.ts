/**
 * processCapability: the platform spec's ProcessCapability, one method per operation, each
 * returning a Result instead of throwing. Failures are the same ProcessError / ThreadError
 * values the throwing API raises; anything else thrown (a bug) is not swallowed.
 */
import { ProcessError } from '../errors.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import type { SignalName } from '../process/signals.js';
import { spawn } from '../process/spawn.js';
import type { ExitStatus } from '../process/status.js';
import { fail, ok, type Result } from '../result.js';
import { setThreadAffinity } from './control.js';
import { createThread, type ThreadOptions } from './create.js';
import { ThreadError } from './errors.js';
import type { ThreadHandle, ThreadResult } from './handle.js';
import { joinThread } from './join.js';

/** The spec's Command: program, args, cwd, env and stdio, plus every other spawn option. */
export type Command = SpawnOptions;
/** Variables merged over the command's own `env` (undefined removes one). */
export type Environment = Record<string, string | undefined>;

export interface ProcessCapability {
  spawnProcess(command: Command, environment?: Environment): Result<ProcessHandle, ProcessError>;
  killProcess(handle: ProcessHandle, signal?: SignalName): Result<void, ProcessError>;
  waitProcess(handle: ProcessHandle, timeoutMs?: number): Promise<Result<ExitStatus, ProcessError>>;
  createThread(
    start: string | URL,
    options?: ThreadOptions,
  ): Promise<Result<ThreadHandle, ThreadError>>;
  joinThread(handle: ThreadHandle, timeoutMs?: number): Promise<Result<ThreadResult, ThreadError>>;
  setThreadAffinity(handle: ThreadHandle, cpus: readonly number[]): Result<void, ThreadError>;
}

function capture<T, E extends Error>(ctor: new (...a: never[]) => E, f: () => T): Result<T, E> {
  try {
    return ok(f());
  } catch (e) {
    if (e instanceof ctor) return fail(e);
    throw e;
  }
}

async function captureAsync<T, E extends Error>(
  ctor: new (...a: never[]) => E,
  f: () => Promise<T>,
): Promise<Result<T, E>> {
  try {
    return ok(await f());
  } catch (e) {
    if (e instanceof ctor) return fail(e);
    throw e;
  }
}

/**
 * @example
 * const r = processCapability.spawnProcess({ program: 'sleep', args: ['1'] });
 * if (!r.ok) console.error(r.error.kind, r.error.message);
 * else {
 *   const w = await processCapability.waitProcess(r.value, 5000);
 *   if (w.ok) console.log(w.value.code); // 0
 * }
 */
export const processCapability: ProcessCapability = Object.freeze({
  spawnProcess(command: Command, environment?: Environment) {
    return capture(ProcessError, () =>
      spawn(
        environment === undefined
          ? command
          : { ...command, env: { ...(command?.env ?? {}), ...environment } },
      ),
    );
  },

  killProcess(handle: ProcessHandle, signal: SignalName = 'SIGTERM') {
    return capture(ProcessError, () => {
      // The spec's kill has no "nothing to signal" answer but an error: a reaped child is gone.
      if (!handle.kill(signal)) {
        throw new ProcessError('NotFound', `kill(${signal}): process ${handle.pid} has exited`, {
          code: 'ESRCH',
        });
      }
    });
  },

  waitProcess(handle: ProcessHandle, timeoutMs?: number) {
    return captureAsync(ProcessError, () =>
      handle.wait(timeoutMs === undefined ? undefined : { timeout: timeoutMs }),
    );
  },

  createThread(start: string | URL, options?: ThreadOptions) {
    return captureAsync(ThreadError, () => createThread(start, options));
  },

  joinThread(handle: ThreadHandle, timeoutMs?: number) {
    return captureAsync(ThreadError, () =>
      joinThread(handle, timeoutMs === undefined ? undefined : { timeout: timeoutMs }),
    );
  },

  setThreadAffinity(handle: ThreadHandle, cpus: readonly number[]) {
    return capture(ThreadError, () => setThreadAffinity(handle, cpus));
  },
});
