/**
 * The parent's end of Node's IPC channel: a libuv IPC pipe (binding.ts) on our end of the
 * socketpair, speaking Node's protocol (lib/internal/child_process.js, setupChannel), so a
 * plain Node process on the other end sees a Node parent:
 * - messages in the wire format of ipc.ts;
 * - a handle travels as `{ cmd: 'NODE_HANDLE', type, msg }` with its descriptor attached to
 *   the same write (SCM_RIGHTS, see unix(7)); the receiver answers NODE_HANDLE_ACK (or
 *   NODE_HANDLE_NACK when the descriptor did not arrive, then the sender retries up to 3
 *   times);
 * - until that answer, every later send() waits in a queue, so messages keep their order and
 *   only one handle is in flight; a net.Socket sent without `keepOpen` is closed on our side
 *   once acknowledged;
 * - disconnect() waits for that queue to drain.
 */
import { Buffer } from 'node:buffer';
import type net from 'node:net';
import util from 'node:util';
import { bindings, type NativeHandle } from './binding.js';
import {
  alreadyDisconnected,
  type Callback,
  channelClosed,
  checkMessage,
  installChannel,
  report,
  sendArgs,
} from './channel-api.js';
import type { ChildProcess } from './child.js';
import { errnoException } from './errors.js';
import { adopt, type HandleMessage, handleType, nativeFor, type SendOptions } from './handles.js';
import { encodeMessage, MessageParser } from './ipc.js';
import type { Serialization } from './normalize.js';
import { setupSocketChannel } from './socket-channel.js';
import { type InternalSend, SocketListReceive, SocketListSend } from './socket-lists.js';

const MAX_HANDLE_RETRANSMISSIONS = 3;
const UV_EPIPE = -32;

interface Queued {
  message: unknown;
  handle: unknown;
  options: SendOptions;
  callback: Callback | undefined;
}

/** A sent net.Socket awaiting its ACK: closed then, or written again on a NACK. */
interface InFlight {
  message: HandleMessage;
  native: NativeHandle;
  retransmissions: number;
}

function internalCmd(message: unknown): string | null {
  const cmd = (message as { cmd?: unknown } | null)?.cmd;
  return typeof cmd === 'string' && cmd.startsWith('NODE_') ? cmd : null;
}

/**
 * Wires `fd` (our end of the socketpair) as `child`'s channel: send() (handles included),
 * disconnect(), 'message', 'disconnect', `connected` and `channel`.
 */
export function setupChannel(child: ChildProcess, fd: number, mode: Serialization): void {
  let b: ReturnType<typeof bindings>;
  try {
    b = bindings();
  } catch (e) {
    // The permission model denies process.binding(): messages only (socket-channel.ts).
    if ((e as { code?: unknown }).code !== 'ERR_ACCESS_DENIED') throw e;
    setupSocketChannel(child, fd, mode);
    return;
  }
  const pipe = new b.Pipe(b.IPC);
  const openErr = pipe.open(fd);
  if (openErr !== 0) throw errnoException(util.getSystemErrorName(openErr), 'open');
  const parser = new MessageParser(mode);
  let connected = true;
  let open = true;
  let disconnectEmitted = false;
  let handleQueue: Queued[] | null = null;
  let inFlight: InFlight | null = null;
  // Descriptors received but not yet claimed by a NODE_HANDLE message (a long message can end
  // in a later read than the one its descriptor came with).
  const received: NativeHandle[] = [];
  let writesPending = 0;
  let closeWhenFlushed = false;
  // Per server key: the lists behind getConnections()/close() across processes.
  const sendLists = new Map<string, SocketListSend>();
  const receiveLists = new Map<string, SocketListReceive>();

  const emitDisconnect = () => {
    if (disconnectEmitted) return;
    disconnectEmitted = true;
    process.nextTick(() => child.emit('disconnect'));
  };
  const closePipe = () => {
    if (!open) return;
    open = false;
    pipe.onread = () => {};
    inFlight?.native.close();
    inFlight = null;
    for (const h of received.splice(0)) h.close();
    pipe.close(() => child._maybeClose());
  };
  const markDisconnected = () => {
    connected = false;
    child.connected = false;
  };

  /** One frame on the pipe, `native`'s descriptor attached; 0 or a negative errno. */
  const write = (message: unknown, native: NativeHandle | null, cb?: Callback): number => {
    if (!open) return UV_EPIPE;
    const req = new b.WriteWrap();
    req.handle = pipe;
    req.oncomplete = null;
    const frame = encodeMessage(message, mode);
    const h = native ?? undefined;
    const err =
      typeof frame === 'string'
        ? pipe.writeUtf8String(req, frame, h)
        : pipe.writeBuffer(req, frame, h);
    if (err !== 0) return err;
    if (b.streamBaseState[b.kLastWriteWasAsync]) {
      writesPending++;
      req.oncomplete = () => {
        writesPending--;
        cb?.(null);
        if (writesPending === 0 && closeWhenFlushed) closePipe();
      };
    } else if (cb) process.nextTick(cb, null);
    return 0;
  };

  const doSend = (
    message: unknown,
    handle: unknown,
    options: SendOptions,
    cb: Callback | undefined,
  ): boolean => {
    checkMessage(message);
    let native: NativeHandle | null = null;
    let wrapped: HandleMessage | null = null;
    let out = message;
    if (handle) {
      wrapped = { cmd: 'NODE_HANDLE', type: handleType(handle), msg: message };
      if (handleQueue) {
        handleQueue.push({ message, handle, options, callback: cb });
        return handleQueue.length === 1;
      }
      native = nativeFor(wrapped, handle, options, onSentServerSocket);
      if (native) out = wrapped;
    } else if (handleQueue) {
      // Behind a handle in flight: wait, so the receiver sees our order.
      handleQueue.push({ message, handle: null, options, callback: cb });
      return handleQueue.length === 1;
    }
    const detached = wrapped?.type === 'net.Socket' && !options.keepOpen;
    const err = write(out, native, cb);
    if (err === 0) {
      if (native && wrapped) {
        handleQueue = [];
        if (detached) inFlight = { message: wrapped, native, retransmissions: 0 };
      }
    } else {
      if (native && detached) native.close();
      if (!options.swallowErrors) {
        report(child, cb, errnoException(util.getSystemErrorName(err), 'write'));
      }
    }
    return pipe.writeQueueSize < 65536 * 2;
  };

  const internalSend: InternalSend = (message, swallowErrors) => {
    doSend(message, null, { swallowErrors }, undefined);
  };
  // The first connection of a server sent to this child: the server asks the child too
  // from now on (net.Server._setupWorker, as Node's own send does).
  function onSentServerSocket(server: object, key: string): void {
    if (sendLists.has(key)) return;
    const list = new SocketListSend(child, key, internalSend);
    sendLists.set(key, list);
    (server as { _setupWorker?: (l: SocketListSend) => void })._setupWorker?.(list);
  }
  const onGotServerSocket = (key: string, socket: net.Socket) => {
    let list = receiveLists.get(key);
    if (!list) {
      list = new SocketListReceive(child, key, internalSend);
      receiveLists.set(key, list);
    }
    list.add(socket);
  };

  const finishDisconnect = () => {
    emitDisconnect();
    if (writesPending === 0) closePipe();
    else closeWhenFlushed = true;
  };

  const onAck = () => {
    inFlight?.native.close();
    inFlight = null;
    const queue = handleQueue ?? [];
    handleQueue = null;
    for (const q of queue) doSend(q.message, q.handle, q.options, q.callback);
    if (!connected && open && !handleQueue) finishDisconnect();
  };

  const onNack = () => {
    if (!inFlight) return;
    if (inFlight.retransmissions++ === MAX_HANDLE_RETRANSMISSIONS) {
      process.emitWarning(
        'Handle did not reach the receiving process correctly',
        'SentHandleNotReceivedWarning',
      );
      onAck();
      return;
    }
    write(inFlight.message, inFlight.native);
  };

  const onHandle = (message: HandleMessage) => {
    const native = received.shift();
    if (native === undefined) {
      // The descriptor was lost (e.g. the receiver's fd limit): ask for it again.
      write({ cmd: 'NODE_HANDLE_NACK' }, null);
      return;
    }
    // Errors are not reported: the ACK is ours, not the user's send().
    write({ cmd: 'NODE_HANDLE_ACK' }, null);
    adopt(
      message,
      native,
      (handle) => {
        if (internalCmd(message.msg)) child.emit('internalMessage', message.msg, handle);
        else child.emit('message', message.msg, handle);
      },
      onGotServerSocket,
    );
  };

  pipe.onread = (buf: ArrayBuffer | undefined) => {
    const got = pipe.pendingHandle;
    pipe.pendingHandle = null;
    if (got) received.push(got);
    if (!buf) {
      // EOF or a read error: the other side is gone, the channel ends as in Node.
      markDisconnected();
      emitDisconnect();
      closePipe();
      return;
    }
    const nread = b.streamBaseState[b.kReadBytesOrError] as number;
    const offset = b.streamBaseState[b.kArrayBufferOffset] as number;
    let messages: unknown[];
    try {
      messages = parser.push(Buffer.from(buf, offset, nread));
    } catch (e) {
      child.emit('error', e);
      return;
    }
    for (const m of messages) {
      const cmd = internalCmd(m);
      if (cmd === 'NODE_HANDLE_ACK') onAck();
      else if (cmd === 'NODE_HANDLE_NACK') onNack();
      else if (cmd === 'NODE_HANDLE') onHandle(m as HandleMessage);
      if (cmd) child.emit('internalMessage', m);
      else child.emit('message', m);
    }
  };
  const readErr = pipe.readStart();
  if (readErr !== 0) throw errnoException(util.getSystemErrorName(readErr), 'read');

  const send = (message: unknown, handle?: unknown, options?: unknown, callback?: unknown) => {
    const a = sendArgs(handle, options, callback);
    if (!connected) return report(child, a.cb, channelClosed());
    return doSend(message, a.handle, a.options, a.cb);
  };

  const disconnect = () => {
    if (!connected) {
      child.emit('error', alreadyDisconnected());
      return;
    }
    markDisconnected();
    // With a handle in flight, the queue is flushed first (onAck finishes the disconnect).
    if (!handleQueue) finishDisconnect();
  };

  installChannel(child, fd, {
    send,
    disconnect,
    ref: () => pipe.ref(),
    unref: () => pipe.unref(),
  });
}
