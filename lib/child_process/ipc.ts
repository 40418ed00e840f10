/**
 * The parent's end of Node's IPC channel, speaking the wire format Node's child side reads
 * (the child finds the socket through NODE_CHANNEL_FD and the format through
 * NODE_CHANNEL_SERIALIZATION_MODE):
 * - 'json': one JSON text per message, each followed by '\n';
 * - 'advanced': a 4-byte big-endian length, then a v8.serialize() payload whose host objects
 *   (Buffers and other ArrayBufferViews) are preceded by a uint32 tag 0, as Node's
 *   ChildProcessSerializer writes them.
 * Messages whose `cmd` starts with 'NODE_' are Node's internal traffic and never surface as
 * 'message'. The channel itself (and handle passing) is channel.ts.
 */
import { Buffer } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import v8 from 'node:v8';
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
