/**
 * systemd's sd_notify protocol, spoken only when systemd asks for it ($NOTIFY_SOCKET set, as
 * for a Type=notify unit): READY=1 once the service works, STATUS= lines for `systemctl
 * status`, WATCHDOG=1 at half of $WATCHDOG_USEC so a hung process is restarted, STOPPING=1 on
 * the way out. Node has no unix datagram sockets; the addon sends the datagram.
 */

import { errnoName } from '../errors.js';
import { native } from '../native.js';

/**
 * Notifies the service manager; a no-op (false) without $NOTIFY_SOCKET. A failed send is
 * reported through `onError` (default: one line on stderr), never thrown: a supervisor must not
 * die because systemd went away.
 *
 * @example
 * const n = new SystemdNotifier();
 * n.ready('web: running, pid 4242');
 * n.stopping();
 */
export class SystemdNotifier {
  readonly socket: string | null;
  readonly watchdogMs: number | null;
  #timer: NodeJS.Timeout | null = null;
  readonly #onError: (message: string) => void;

  constructor(
    env: NodeJS.ProcessEnv = process.env,
    onError: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
  ) {
    const socket = env.NOTIFY_SOCKET;
    this.socket = socket !== undefined && socket !== '' ? socket : null;
    // WATCHDOG_PID, when set, names the one process the watchdog is meant for.
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    const usec = Number(env.WATCHDOG_USEC);
    this.watchdogMs = forUs && Number.isFinite(usec) && usec > 0 ? usec / 1000 : null;
    this.#onError = onError;
  }

  /** True when a service manager listens. */
  get enabled(): boolean {
    return this.socket !== null;
  }

  /**
   * Sends raw `KEY=VALUE` lines; false when there is no socket or the send failed.
   * @example
   * notifier.send('RELOADING=1');
   */
  send(message: string): boolean {
    if (this.socket === null) return false;
    const r = native.notifySocket(this.socket, message);
    if (r === 0) return true;
    this.#onError(`sd_notify ${JSON.stringify(message)} to ${this.socket}: ${errnoName(-r)}`);
    return false;
  }

  /**
   * READY=1 (with a status line), and the watchdog keep-alive from now on.
   * @example
   * notifier.ready('serving on 127.0.0.1:7070');
   */
  ready(status?: string): boolean {
    const sent = this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${status}`);
    if (this.watchdogMs !== null && this.#timer === null && this.socket !== null) {
      this.#timer = setInterval(() => this.send('WATCHDOG=1'), this.watchdogMs / 2);
      this.#timer.unref();
    }
    return sent;
  }

  /**
   * STATUS=<text>, shown by `systemctl status`.
   * @example
   * notifier.status('restarting in 200 ms (exited with code 1)');
   */
  status(text: string): boolean {
    return this.send(`STATUS=${text.replaceAll('\n', ' ')}`);
  }

  /**
   * STOPPING=1; the watchdog stops.
   * @example
   * notifier.stopping();
   */
  stopping(): boolean {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    return this.send('STOPPING=1');
  }
}
