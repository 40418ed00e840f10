// The live event stream: one WebSocket to /api/process/events that reconnects with backoff
// (1 s, 2 s, 4 s ... at most 10 s), re-subscribes process.output for the selected process,
// and hands every { topic, payload, time, seq } message to the bus under its topic.
import { API_BASE } from './api.js';
import { getToken } from './auth.js';
import { emit } from './bus.js';

// process.output is asked for only for the selected process (see setOutputFilter).
const TOPICS = ['process.started', 'process.exited', 'process.killed', 'daemon.*', 'pipeline.*'];
const MAX_DELAY_MS = 10_000;
// Close codes that may mean the token was refused (besides failing before the open).
const AUTH_CLOSE_CODES = new Set([1008, 4001, 4003, 4401, 4403]);

export class EventStream {
  #socket = null;
  #timer = null;
  #attempt = 0;
  #running = false;
  #outputId = null;

  /** Connects now (and keeps reconnecting until stop()). */
  start() {
    this.#running = true;
    this.#connect();
  }

  stop() {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = null;
    const socket = this.#socket;
    this.#socket = null;
    if (socket) socket.close(1000, 'panel closed');
  }

  /** Drops the current connection and connects at once (e.g. with a new token). */
  restart() {
    this.stop();
    this.#attempt = 0;
    this.start();
  }

  /** Which process's output to receive (null: none). Applies now and on every reconnect. */
  setOutputFilter(id) {
    if (id === this.#outputId) return;
    this.#outputId = id;
    if (this.#socket?.readyState !== WebSocket.OPEN) return;
    this.#send({ unsubscribe: 'process.output' });
    if (id !== null) this.#send({ subscribe: 'process.output', id });
  }

  #url() {
    const params = new URLSearchParams();
    params.set('token', getToken() ?? '');
    const topics = this.#outputId === null ? TOPICS : [...TOPICS, 'process.output'];
    params.set('topics', topics.join(','));
    if (this.#outputId !== null) params.set('id', this.#outputId);
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return `${scheme}://${location.host}${API_BASE}/events?${params}`;
  }

  #connect() {
    clearTimeout(this.#timer);
    this.#timer = null;
    if (!this.#running) return;
    if (!getToken()) {
      this.#state('reconnecting', 'waiting for an API token');
      return;
    }
    let opened = false;
    let socket;
    try {
      socket = new WebSocket(this.#url());
    } catch (error) {
      this.#state('reconnecting', `cannot open the event stream: ${error.message}`);
      this.#retry();
      return;
    }
    this.#socket = socket;
    this.#state('reconnecting', 'connecting…');
    socket.addEventListener('open', () => {
      if (socket !== this.#socket) return;
      opened = true;
      this.#attempt = 0;
      this.#state('live', 'receiving live events');
      emit('resync'); // whatever happened while we were away: fetch it
    });
    socket.addEventListener('message', (event) => this.#receive(event.data));
    socket.addEventListener('close', (event) => {
      if (socket !== this.#socket) return; // replaced or stopped on purpose
      this.#socket = null;
      // A refused upgrade looks like an early close: let a REST call find out whether the
      // token is the reason (a 401 there raises the auth banner).
      if (!opened || AUTH_CLOSE_CODES.has(event.code)) emit('probe-auth');
      const why = event.code === 4008 ? 'dropped as a slow client' : `closed (${event.code})`;
      this.#retry(why);
    });
  }

  #retry(why = 'connection lost') {
    if (!this.#running) return;
    const delay = Math.min(1000 * 2 ** this.#attempt, MAX_DELAY_MS);
    this.#attempt += 1;
    this.#state('reconnecting', `${why}; next try in ${delay / 1000} s`);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return; // not ours to understand
    }
    if (typeof message?.topic !== 'string') return;
    emit(message.topic, message.payload ?? {}, message);
  }

  #send(message) {
    try {
      this.#socket?.send(JSON.stringify(message));
    } catch {
      // the close handler reconnects and the URL carries the subscription
    }
  }

  #state(state, detail) {
    emit('ws-state', { state, detail });
  }
}
