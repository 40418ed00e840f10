/**
 * Node's own libuv stream classes, for the IPC channel. Passing a handle needs SCM_RIGHTS on
 * the channel socket, and the only JS-reachable object that does it is libuv's IPC pipe
 * (uv_pipe_init(ipc=1) + uv_write2), exposed as `Pipe` with `PipeConstants.IPC` in the
 * 'pipe_wrap' binding: Node's child side opens NODE_CHANNEL_FD with exactly this. Received
 * descriptors come back as TCP/Pipe/UDP handle objects that net.Server.listen(handle),
 * new net.Socket({ handle }) and dgram.Socket.bind(handle) adopt (dgram has no public
 * fd-adopting API, which rules out a native sendmsg/recvmsg of our own).
 *
 * `process.binding` lists these modules on Node 20 to 26 and warns (DEP0111) only under
 * --pending-deprecation; that warning is about our internals, not the user's code, so it is
 * kept from the user for the one lookup we make.
 */

export interface WriteReq {
  handle: unknown;
  oncomplete: ((status: number) => void) | null;
}

export interface NativeHandle {
  close(cb?: () => void): void;
  ref(): void;
  unref(): void;
}

export interface IpcPipe extends NativeHandle {
  open(fd: number): number;
  readStart(): number;
  readStop(): number;
  writeUtf8String(req: WriteReq, data: string, handle?: NativeHandle): number;
  writeBuffer(req: WriteReq, data: Uint8Array, handle?: NativeHandle): number;
  onread: (buf: ArrayBuffer | undefined) => void;
  pendingHandle: NativeHandle | null | undefined;
  readonly writeQueueSize: number;
}

interface Bindings {
  Pipe: new (type: number) => IpcPipe;
  IPC: number;
  TCP: abstract new (...a: never[]) => NativeHandle;
  UDP: abstract new (...a: never[]) => NativeHandle;
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

let cached: Bindings | null = null;

type BindingFn = (name: string) => Record<string, unknown>;

/** The bindings, looked up once. */
export function bindings(): Bindings {
  if (cached) return cached;
  const binding = (process as unknown as { binding: BindingFn }).binding;
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const pipe = binding('pipe_wrap');
    const stream = binding('stream_wrap');
    cached = {
      Pipe: pipe.Pipe as Bindings['Pipe'],
      IPC: (pipe.constants as { IPC: number }).IPC,
      TCP: binding('tcp_wrap').TCP as Bindings['TCP'],
      UDP: binding('udp_wrap').UDP as Bindings['UDP'],
      WriteWrap: stream.WriteWrap as Bindings['WriteWrap'],
      streamBaseState: stream.streamBaseState as Int32Array,
      kReadBytesOrError: stream.kReadBytesOrError as number,
      kArrayBufferOffset: stream.kArrayBufferOffset as number,
      kLastWriteWasAsync: stream.kLastWriteWasAsync as number,
    };
  } finally {
    process.noDeprecation = quiet;
  }
  return cached;
}
