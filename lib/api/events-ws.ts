/**
 * The WebSocket event bridge: a client subscribes to glob topics (and may narrow
 * process.output to one process id) and receives each bus event as one JSON message. A
 * client that cannot keep up is closed with code 4008 instead of letting our send buffer
 * grow without bound.
 */
import type { WebSocket } from 'ws';
import type { Core } from '../core/core.js';
import { describe } from '../errors.js';

/** Close code for a client whose unsent data passed the limit. */
export const SLOW_CLIENT_CLOSE = 4008;
const TOPIC = /^[a-z0-9*{},.-]{1,100}$/i;

interface Subscription {
  off: () => void;
  id: string | undefined;
}

export interface BridgeOptions {
  /** Bytes queued on the socket before the client is dropped; default 1 MiB. */
  maxBufferedBytes?: number;
}

/**
 * Serves one connection until it closes.
 *
 * @example
 * bridgeEvents(core, socket, new URL(req.url, 'http://x').searchParams);
 */
export function bridgeEvents(
  core: Core,
  socket: WebSocket,
  query: URLSearchParams,
  options: BridgeOptions = {},
): void {
  const limit = options.maxBufferedBytes ?? 1 << 20;
  const subs = new Map<string, Subscription>();
  let closed = false;

  const close = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    for (const s of subs.values()) s.off();
    subs.clear();
    socket.close(code, reason);
  };

  const reply = (message: Record<string, unknown>) => {
    if (!closed) socket.send(JSON.stringify(message));
  };

  const subscribe = (pattern: unknown, id: unknown) => {
    if (typeof pattern !== 'string' || !TOPIC.test(pattern)) {
      reply({
        error: {
          kind: 'InvalidInput',
          message: `subscribe: ${describe(pattern)} is not a topic glob`,
        },
      });
      return;
    }
    subs.get(pattern)?.off();
    const sub: Subscription = { id: typeof id === 'string' ? id : undefined, off: () => {} };
    sub.off = core.events.subscribe(
      pattern,
      (e) => {
        if (closed) return;
        const payload = e.payload as { id?: unknown } | null;
        if (sub.id !== undefined && e.topic === 'process.output' && payload?.id !== sub.id) return;
        if (socket.bufferedAmount > limit) {
          close(SLOW_CLIENT_CLOSE, `too slow: more than ${limit} bytes unsent`);
          return;
        }
        socket.send(
          JSON.stringify({ topic: e.topic, payload: e.payload, time: e.time, seq: e.seq }),
        );
      },
      { name: 'api-ws' },
    );
    subs.set(pattern, sub);
    reply({ subscribed: pattern, ...(sub.id === undefined ? {} : { id: sub.id }) });
  };

  for (const t of (query.get('topics') ?? '').split(',').filter((s) => s.length > 0)) {
    subscribe(t.trim(), query.get('id') ?? undefined);
  }

  socket.on('message', (data) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(String(data));
    } catch {
      parsed = undefined;
    }
    // `'subscribe' in null` (or in 5) would throw out of the socket's data handler and take
    // the server process down with it: anything but a JSON object is refused here.
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      reply({ error: { kind: 'InvalidInput', message: 'messages must be JSON objects' } });
      return;
    }
    const msg = parsed as Record<string, unknown>;
    if ('subscribe' in msg) subscribe(msg.subscribe, msg.id);
    else if ('unsubscribe' in msg && typeof msg.unsubscribe === 'string') {
      subs.get(msg.unsubscribe)?.off();
      subs.delete(msg.unsubscribe);
      reply({ unsubscribed: msg.unsubscribe });
    } else
      reply({
        error: { kind: 'InvalidInput', message: 'send { subscribe, id? } or { unsubscribe }' },
      });
  });
  socket.on('close', () => close(1000, 'bye'));
  socket.on('error', () => close(1011, 'socket error'));
}
