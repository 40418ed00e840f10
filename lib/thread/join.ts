/**
 * joinThread: waiting for a thread's end and taking its result, as pthread_join and Rust's
 * JoinHandle::join do: the start function's value, or its error as the rejection's cause.
 */
import { describe } from '../errors.js';
import { invalidThreadInput, ThreadError } from './errors.js';
import { ThreadHandle, type ThreadResult } from './handle.js';

export interface JoinOptions {
  /** Milliseconds; rejects ThreadError 'TimedOut' and leaves the thread running. */
  timeout?: number;
}

/**
 * Resolves `{ exitCode, value }` once the thread's OS thread is gone. Rejects ThreadError:
 * 'TimedOut' after `timeout` ms (the thread keeps running; join again later), 'JoinFailed'
 * for a detached thread, and 'JoinFailed' with `cause` set to what the thread threw when its
 * start function (or module) failed, it crashed, or it was stopped before returning.
 * Joining twice gives the same answer.
 * @example
 * const t = await createThread(new URL('./sum.js', import.meta.url), { data: [1, 2, 3] });
 * const { value } = await joinThread(t, { timeout: 5000 }); // 6
 */
export async function joinThread(
  handle: ThreadHandle,
  options?: JoinOptions,
): Promise<ThreadResult> {
  if (!(handle instanceof ThreadHandle)) {
    throw invalidThreadInput('joinThread', 'handle', describe(handle), 'is not a ThreadHandle');
  }
  const timeout = checkTimeout(options);
  if (handle.detached) {
    throw new ThreadError(
      'JoinFailed',
      `joinThread: ${handle.label} is detached: it cannot be joined`,
      {
        code: 'EINVAL',
      },
    );
  }
  const result = handle.result ?? (await settled(handle, timeout));
  if (result.error !== undefined) {
    throw new ThreadError(
      'JoinFailed',
      `joinThread: ${handle.label} failed (exit code ${result.exitCode}): ${result.error.message}`,
      { cause: result.error },
    );
  }
  return result;
}

function checkTimeout(options: JoinOptions | undefined): number | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') {
    throw invalidThreadInput('joinThread', 'options', describe(options), 'must be an object');
  }
  const t = options.timeout;
  if (t === undefined) return undefined;
  // Node timers fire after 1 ms for anything above 2^31-1: refuse instead of timing out early.
  if (typeof t !== 'number' || !(t >= 0 && t <= 0x7fffffff)) {
    throw invalidThreadInput(
      'joinThread',
      'timeout',
      describe(t),
      'must be a number of milliseconds in 0..2147483647',
    );
  }
  return t;
}

function settled(handle: ThreadHandle, timeout: number | undefined): Promise<ThreadResult> {
  return new Promise<ThreadResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    // A timed-out join leaves nothing behind: polling a long-lived thread with short joins
    // must not grow the handle's waiter list.
    const unsubscribe = handle._onSettled((r) => {
      if (timer !== undefined) clearTimeout(timer);
      resolve(r);
    });
    if (timeout === undefined || handle.result !== null) return;
    timer = setTimeout(() => {
      unsubscribe();
      reject(
        new ThreadError(
          'TimedOut',
          `joinThread: ${handle.label} still running after ${timeout} ms`,
          { code: 'ETIMEDOUT' },
        ),
      );
    }, timeout);
  });
}
