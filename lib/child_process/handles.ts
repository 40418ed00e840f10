/**
 * What goes over the channel with a handle, and what comes out on the other side: Node's
 * handleConversion table (lib/internal/child_process.js), so a Node process on the other end
 * reads our NODE_HANDLE messages and we read its. The wrapped message is
 * `{ cmd: 'NODE_HANDLE', type, msg }` (+ `key` for a server's connection, `dgramType` for a
 * UDP socket); the descriptor itself rides on the same write as SCM_RIGHTS.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { bindings, type NativeHandle } from './binding.js';
import { nodeTypeError } from './errors.js';

export type HandleType =
  | 'net.Server'
  | 'net.Socket'
  | 'net.Native'
  | 'dgram.Socket'
  | 'dgram.Native';

export interface HandleMessage {
  cmd: 'NODE_HANDLE';
  type: HandleType;
  msg: unknown;
  key?: string;
  dgramType?: string;
}

export interface SendOptions {
  keepOpen?: boolean;
  swallowErrors?: boolean;
}

/** The type tag Node gives `handle`; throws ERR_INVALID_HANDLE_TYPE as Node does. */
export function handleType(handle: unknown): HandleType {
  const b = bindings();
  if (handle instanceof net.Socket) return 'net.Socket';
  if (handle instanceof net.Server) return 'net.Server';
  if (handle instanceof b.TCP || handle instanceof b.Pipe) return 'net.Native';
  if (handle instanceof dgram.Socket) return 'dgram.Socket';
  if (handle instanceof b.UDP) return 'dgram.Native';
  throw nodeTypeError('ERR_INVALID_HANDLE_TYPE', 'This handle type cannot be sent');
}

interface SocketInternals {
  _handle: (NativeHandle & { onread: unknown }) | null;
  server?: { _connectionKey?: string; _connections: number } | null;
}

function dgramState(socket: dgram.Socket): { handle: NativeHandle } | undefined {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  return sym ? (socket as unknown as Record<symbol, { handle: NativeHandle }>)[sym] : undefined;
}

/**
 * The native handle to write for `handle` (null: nothing sendable, the message goes alone, as
 * in Node). A net.Socket sent without keepOpen is detached here: it stops reading and is
 * closed on our side once the receiver acknowledges it.
 */
export function nativeFor(
  message: HandleMessage,
  handle: unknown,
  options: SendOptions,
  onServerSocket: (server: object, key: string) => void,
): NativeHandle | null {
  switch (message.type) {
    case 'net.Server':
      return ((handle as { _handle?: NativeHandle | null })._handle ?? null) as NativeHandle | null;
    case 'net.Socket': {
      const socket = handle as net.Socket & SocketInternals;
      const native = socket._handle;
      if (!native) return null;
      if (socket.server?._connectionKey !== undefined) {
        message.key = socket.server._connectionKey;
        onServerSocket(socket.server, message.key);
        // The connection now belongs to the receiver: the server stops counting it here.
        if (!options.keepOpen) socket.server._connections--;
      }
      if (!options.keepOpen) {
        native.onread = () => {};
        socket._handle = null;
        socket.setTimeout(0);
      }
      return native;
    }
    case 'dgram.Socket': {
      const socket = handle as dgram.Socket;
      message.dgramType = (socket as unknown as { type: string }).type;
      return dgramState(socket)?.handle ?? null;
    }
    default:
      return handle as NativeHandle;
  }
}

/** Rebuilds the object the sender passed from the received native handle, then calls `emit`. */
export function adopt(
  message: HandleMessage,
  native: NativeHandle,
  emit: (handle: unknown) => void,
  onServerSocket: (key: string, socket: net.Socket) => void,
): void {
  switch (message.type) {
    case 'net.Server': {
      const server = new net.Server();
      server.listen(native as never, () => emit(server));
      return;
    }
    case 'net.Socket': {
      const socket = new net.Socket({ handle: native, readable: true, writable: true } as never);
      // A connection of the sender's server: its getConnections() will ask us about it.
      if (message.key !== undefined) onServerSocket(message.key, socket);
      emit(socket);
      return;
    }
    case 'dgram.Socket': {
      const socket = dgram.createSocket((message.dgramType ?? 'udp4') as dgram.SocketType);
      socket.bind(native as never, () => emit(socket));
      return;
    }
    default:
      emit(native);
  }
}
