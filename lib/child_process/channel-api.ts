/**
 * What every channel implementation shares with Node's ChildProcess API: send()'s argument
 * forms and checks, the errors for a closed channel, and `channel`/`_channel`/send/disconnect
 * on the child. channel.ts (the IPC pipe) and socket-channel.ts (its fallback) use it.
 */
import type { ChildProcess } from './child.js';
import { invalidArgType, plainError } from './errors.js';
import type { SendOptions } from './handles.js';
import { NODE_MAJOR } from './line.js';

export type Callback = (err: Error | null) => void;

/** Node's checks on `message` (ERR_MISSING_ARGS, ERR_INVALID_ARG_TYPE). */
export function checkMessage(message: unknown): void {
  if (message === undefined) {
    const err = new TypeError('The "message" argument must be specified') as TypeError & {
      code: string;
    };
    err.code = 'ERR_MISSING_ARGS';
    throw err;
  }
  const t = typeof message;
  if (t !== 'string' && t !== 'object' && t !== 'number' && t !== 'boolean') {
    throw invalidArgType('message', 'one of type string, object, number, or boolean', message);
  }
}

/** send(message[, handle][, options][, callback]) as Node reads it. */
export function sendArgs(
  handle: unknown,
  options: unknown,
  callback: unknown,
): { handle: unknown; options: SendOptions; cb: Callback | undefined } {
  let cb = callback;
  let opts = options;
  if (typeof handle === 'function') {
    cb = handle;
    handle = undefined;
    opts = undefined;
  } else if (typeof options === 'function') {
    cb = options;
    opts = undefined;
  } else if (opts !== undefined && (opts === null || typeof opts !== 'object')) {
    throw invalidArgType('options', 'of type object', opts);
  }
  return {
    handle,
    options: { swallowErrors: false, ...(opts as SendOptions) },
    cb: typeof cb === 'function' ? (cb as Callback) : undefined,
  };
}

/** An error for `cb`, or else the child's 'error', on the next tick (Node's way). */
export function report(child: ChildProcess, cb: Callback | undefined, err: Error): false {
  if (cb) process.nextTick(cb, err);
  else process.nextTick(() => child.emit('error', err));
  return false;
}

export const channelClosed = (): Error => plainError('ERR_IPC_CHANNEL_CLOSED', 'Channel closed');

export const alreadyDisconnected = (): Error =>
  plainError('ERR_IPC_DISCONNECTED', 'IPC channel is already disconnected');

/** Puts send/disconnect, `channel` and Node's `_channel` alias on the child. */
export function installChannel(
  child: ChildProcess,
  fd: number,
  api: {
    send: (message: unknown, handle?: unknown, options?: unknown, callback?: unknown) => boolean;
    disconnect: () => void;
    ref: () => void;
    unref: () => void;
  },
): void {
  child._setChannel({
    send: api.send,
    disconnect: api.disconnect,
    onChildExit: () => {
      // The child's end is closed by its exit; our read sees EOF and closes ours.
    },
  });
  Object.defineProperty(child, 'channel', {
    value: {
      ref: api.ref,
      unref: api.unref,
      get fd() {
        return fd;
      },
    },
    enumerable: true,
    configurable: true,
    writable: true,
  });
  // Node's deprecated alias (DEP0129): the same object as `channel`, not enumerable; removed
  // in Node 26, so not there either.
  if (NODE_MAJOR >= 26) return;
  Object.defineProperty(child, '_channel', {
    get: () => (child as unknown as { channel: unknown }).channel,
    set: (v: unknown) => {
      (child as unknown as { channel: unknown }).channel = v;
    },
    enumerable: false,
    configurable: true,
  });
}
