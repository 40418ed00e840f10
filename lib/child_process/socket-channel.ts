/**
 * The channel without handle passing, for when Node's IPC pipe class cannot be reached: under
 * the permission model (--permission / --experimental-permission) process.binding() throws
 * ERR_ACCESS_DENIED. Messages then go over a plain net.Socket on our end of the socketpair,
 * in the same wire format (ipc.ts); a send() with a handle fails with
 * ERR_CORE_PROCESS_IPC_HANDLE (callback or 'error') and the message is not sent.
 */
import net from 'node:net';
import {
  alreadyDisconnected,
  channelClosed,
  checkMessage,
  installChannel,
  report,
  sendArgs,
} from './channel-api.js';
import type { ChildProcess } from './child.js';
import { plainError } from './errors.js';
import { encodeMessage, MessageParser } from './ipc.js';
import type { Serialization } from './normalize.js';

const isInternal = (m: unknown): boolean => {
  const cmd = (m as { cmd?: unknown } | null)?.cmd;
  return typeof cmd === 'string' && cmd.startsWith('NODE_');
};

/** Wires `fd` as `child`'s channel over a net.Socket (no handles). */
export function setupSocketChannel(child: ChildProcess, fd: number, mode: Serialization): void {
  const socket = new net.Socket({ fd, readable: true, writable: true });
  const parser = new MessageParser(mode);
  let connected = true;
  let closed = false;

  const finish = () => {
    if (!connected) return;
    connected = false;
    child.connected = false;
    child.emit('disconnect');
  };
  socket.on('data', (data: Buffer) => {
    let messages: unknown[];
    try {
      messages = parser.push(data);
    } catch (e) {
      child.emit('error', e);
      return;
    }
    for (const m of messages) child.emit(isInternal(m) ? 'internalMessage' : 'message', m);
  });
  socket.on('error', () => {
    // ECONNRESET/EPIPE after the child died: the channel just ends, as in Node.
  });
  socket.on('end', () => socket.end());
  socket.on('close', () => {
    closed = true;
    finish();
    child._maybeClose();
  });

  const send = (message: unknown, handle?: unknown, options?: unknown, callback?: unknown) => {
    const a = sendArgs(handle, options, callback);
    if (!connected || closed) return report(child, a.cb, channelClosed());
    checkMessage(message);
    if (a.handle) {
      return report(
        child,
        a.cb,
        plainError(
          'ERR_CORE_PROCESS_IPC_HANDLE',
          "Passing handles needs Node's IPC pipe (process.binding('pipe_wrap')), which the permission model denies",
        ),
      );
    }
    socket.write(encodeMessage(message, mode), (err?: Error | null) => a.cb?.(err ?? null));
    return socket.writableLength < 65536 * 2;
  };

  const disconnect = () => {
    if (!connected) {
      child.emit('error', alreadyDisconnected());
      return;
    }
    connected = false;
    child.connected = false;
    // Pending messages are flushed first; the child then sees EOF and its own 'disconnect'.
    socket.end();
    process.nextTick(() => child.emit('disconnect'));
  };

  installChannel(child, fd, {
    send,
    disconnect,
    ref: () => socket.ref(),
    unref: () => socket.unref(),
  });
}
