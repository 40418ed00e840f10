/**
 * server.getConnections() and server.close() across processes, as Node keeps them
 * (lib/internal/socket_list.js): when a connection accepted by a net.Server is sent to a
 * child, the server learns to ask that child how many of its connections it still holds
 * (NODE_SOCKET_GET_COUNT -> NODE_SOCKET_COUNT) and, on close(), to wait until it holds none
 * (NODE_SOCKET_NOTIFY_CLOSE -> NODE_SOCKET_ALL_CLOSED). Both ends are here: the sending
 * server's view of a child, and the answers when a child sends such a connection to us.
 * Messages are matched by the server's `_connectionKey`, carried as `key` in NODE_HANDLE.
 */
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { plainError } from './errors.js';

/** How a list talks over the channel (Node's target._send with swallowErrors). */
export type InternalSend = (message: Record<string, unknown>, swallowErrors: boolean) => void;

interface ChannelSide extends EventEmitter {
  connected: boolean;
}

interface InternalMessage {
  cmd?: string;
  key?: string;
  count?: number;
}

/** The sending server's view of one child: net.Server._setupWorker() takes it. */
export class SocketListSend extends EventEmitter {
  readonly key: string;
  readonly #child: ChannelSide;
  readonly #send: InternalSend;

  constructor(child: ChannelSide, key: string, send: InternalSend) {
    super();
    this.key = key;
    this.#child = child;
    this.#send = send;
    child.once('exit', () => this.emit('exit', this));
  }

  #request(
    cmd: string,
    reply: string,
    swallowErrors: boolean,
    cb: (err: Error | null, m?: InternalMessage) => void,
  ): void {
    const child = this.#child;
    const onclose = () => {
      child.removeListener('internalMessage', onreply);
      cb(plainError('ERR_CHILD_CLOSED_BEFORE_REPLY', 'Child closed before reply received'));
    };
    const onreply = (m: InternalMessage) => {
      if (m.cmd !== reply || m.key !== this.key) return;
      child.removeListener('disconnect', onclose);
      child.removeListener('internalMessage', onreply);
      cb(null, m);
    };
    if (!child.connected) {
      onclose();
      return;
    }
    this.#send({ cmd, key: this.key }, swallowErrors);
    child.once('disconnect', onclose);
    child.on('internalMessage', onreply);
  }

  close(cb: (err: Error | null) => void): void {
    this.#request('NODE_SOCKET_NOTIFY_CLOSE', 'NODE_SOCKET_ALL_CLOSED', true, cb);
  }

  getConnections(cb: (err: Error | null, count?: number) => void): void {
    this.#request('NODE_SOCKET_GET_COUNT', 'NODE_SOCKET_COUNT', false, (err, m) =>
      err ? cb(err) : cb(null, m?.count),
    );
  }
}

/** Our answers for the connections of one of the child's servers that it sent to us. */
export class SocketListReceive extends EventEmitter {
  connections = 0;

  constructor(child: ChannelSide, key: string, send: InternalSend) {
    super();
    const onempty = () => {
      if (child.connected) send({ cmd: 'NODE_SOCKET_ALL_CLOSED', key }, true);
    };
    child.on('internalMessage', (m: InternalMessage) => {
      if (m.key !== key) return;
      if (m.cmd === 'NODE_SOCKET_NOTIFY_CLOSE') {
        if (this.connections === 0) onempty();
        else this.once('empty', onempty);
      } else if (m.cmd === 'NODE_SOCKET_GET_COUNT' && child.connected) {
        send({ cmd: 'NODE_SOCKET_COUNT', key, count: this.connections }, false);
      }
    });
  }

  add(socket: net.Socket): void {
    this.connections++;
    socket.once('close', () => {
      this.connections--;
      if (this.connections === 0) this.emit('empty', this);
    });
  }
}
