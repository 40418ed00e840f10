/**
 * The parent's end of Node's IPC channel, speaking the wire format Node's child side reads
 * (the child finds the socket through NODE_CHANNEL_FD and the format through
 * NODE_CHANNEL_SERIALIZATION_MODE):
 * - 'json': one JSON text per message, each followed by '\n';
 * - 'advanced': a 4-byte big-endian length, then a v8.serialize() payload whose host objects
 *   (Buffers and other ArrayBufferViews) are preceded by a uint32 tag 0, as Node's
 *   ChildProcessSerializer writes them.
 * Messages whose `cmd` starts with 'NODE_' are Node's internal traffic and never surface as
 * 'message'. Passing handles (sockets, servers) is not supported: send() with a handle fails
 * with ERR_CORE_PROCESS_IPC_HANDLE (see README, "Drop-in child_process").
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import v8 from 'node:v8';
import type { ChildProcess } from './child.js';
import { invalidArgType, plainError } from './errors.js';
import { NODE_MAJOR } from './line.js';
import type { Serialization } from './normalize.js';

const VIEW_TAG = 0;
const NOT_VIEW_TAG = 1;

// Node's serializer hooks exist at run time but not in @types/node.
interface HostHooks {
  _writeHostObject(object: object): void;
  _readHostObject(): unknown;
}
const baseWrite = (v8.DefaultSerializer.prototype as unknown as HostHooks)._writeHostObject;
const baseRead = (v8.DefaultDeserializer.prototype as unknown as HostHooks)._readHostObject;

class ChannelSerializer extends v8.DefaultSerializer {
  _writeHostObject(object: object): void {
    if (ArrayBuffer.isView(object)) {
      this.writeUint32(VIEW_TAG);
      baseWrite.call(this, object);
      return;
    }
    this.writeUint32(NOT_VIEW_TAG);
    this.writeValue({ ...object });
  }
}

class ChannelDeserializer extends v8.DefaultDeserializer {
  _readHostObject(): unknown {
    const tag = this.readUint32();
    if (tag === VIEW_TAG) return baseRead.call(this);
    return this.readValue();
  }
}

/** One framed message in the channel's format. */
export function encodeMessage(message: unknown, mode: Serialization): Buffer | string {
  if (mode === 'json') return `${JSON.stringify(message)}\n`;
  const ser = new ChannelSerializer();
  ser.writeHeader();
  ser.writeValue(message);
  const body = ser.releaseBuffer();
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/** Incremental parser: feed it reads, get whole messages back. */
export class MessageParser {
  #mode: Serialization;
  #text = '';
  #decoder = new StringDecoder('utf8');
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(mode: Serialization) {
    this.#mode = mode;
  }

  push(data: Buffer): unknown[] {
    return this.#mode === 'json' ? this.#json(data) : this.#advanced(data);
  }

  #json(data: Buffer): unknown[] {
    this.#text += this.#decoder.write(data);
    const out: unknown[] = [];
    let nl = this.#text.indexOf('\n');
    while (nl !== -1) {
      const line = this.#text.slice(0, nl);
      this.#text = this.#text.slice(nl + 1);
      if (line.length > 0) out.push(JSON.parse(line));
      nl = this.#text.indexOf('\n');
    }
    return out;
  }

  #advanced(data: Buffer): unknown[] {
    this.#chunks.push(data);
    this.#size += data.length;
    const out: unknown[] = [];
    while (this.#size >= 4) {
      let buf =
        this.#chunks.length === 1 ? (this.#chunks[0] as Buffer) : Buffer.concat(this.#chunks);
      this.#chunks = [buf];
      const need = buf.readUInt32BE(0) + 4;
      if (buf.length < need) break;
      const des = new ChannelDeserializer(buf.subarray(4, need));
      des.readHeader();
      out.push(des.readValue());
      buf = buf.subarray(need);
      this.#chunks = buf.length > 0 ? [buf] : [];
      this.#size = buf.length;
    }
    return out;
  }
}

function isInternal(message: unknown): boolean {
  const cmd = (message as { cmd?: unknown } | null)?.cmd;
  return typeof cmd === 'string' && cmd.startsWith('NODE_');
}

/**
 * Wires `fd` (our end of the socketpair) as `child`'s channel: send(), disconnect(),
 * 'message', 'disconnect', `connected` and `channel`.
 */
export function setupChannel(child: ChildProcess, fd: number, mode: Serialization): void {
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
    for (const m of messages) {
      if (isInternal(m)) child.emit('internalMessage', m);
      else child.emit('message', m);
    }
  });
  socket.on('error', () => {
    // ECONNRESET/EPIPE after the child died: the channel just ends, as in Node.
  });
  socket.on('end', () => {
    socket.end();
  });
  socket.on('close', () => {
    closed = true;
    finish();
    child._maybeClose();
  });

  const send = (message: unknown, handle?: unknown, options?: unknown, callback?: unknown) => {
    let cb = callback;
    if (typeof handle === 'function') {
      cb = handle;
      handle = undefined;
    } else if (typeof options === 'function') {
      cb = options;
    }
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
    const fail = (err: Error) => {
      if (typeof cb === 'function') process.nextTick(cb as (e: Error) => void, err);
      else process.nextTick(() => child.emit('error', err));
      return false;
    };
    if (handle !== undefined && handle !== null) {
      return fail(
        plainError(
          'ERR_CORE_PROCESS_IPC_HANDLE',
          'Passing handles over the IPC channel is not supported by @core/process/child_process',
        ),
      );
    }
    if (!connected || closed) return fail(plainError('ERR_IPC_CHANNEL_CLOSED', 'Channel closed'));
    const frame = encodeMessage(message, mode);
    socket.write(frame, (err?: Error | null) => {
      if (typeof cb === 'function') (cb as (e: Error | null) => void)(err ?? null);
    });
    return socket.writableLength < 65536 * 2;
  };

  const disconnect = () => {
    if (!connected) {
      child.emit(
        'error',
        plainError('ERR_IPC_DISCONNECTED', 'IPC channel is already disconnected'),
      );
      return;
    }
    connected = false;
    child.connected = false;
    // Pending messages are flushed first; the child then sees EOF and its own 'disconnect'.
    socket.end();
    process.nextTick(() => child.emit('disconnect'));
  };

  child._setChannel({
    send,
    disconnect,
    onChildExit: () => {
      // The child's end is closed by its exit; 'close' of the socket follows on its own.
    },
  });
  Object.defineProperty(child, 'channel', {
    value: {
      ref: () => socket.ref(),
      unref: () => socket.unref(),
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
