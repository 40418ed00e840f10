/**
 * The http and https protocol handlers for remote actions (seed 001 §19.5): `core.use(
 * httpStreams())` registers both, so `core.action('a:process.run')` can reach the core a lib/api
 * serve() exposes at drive entry `a`. One call is one POST to `<transport>api/process/call`
 * with the drive's token as the Bearer serve() expects; the reply body is the call's answer
 * whatever the HTTP status. https verifies the server's certificate (Node's default, never
 * turned off here) against the system CAs plus the drive entry's `ca`.
 */
import http from 'node:http';
import https from 'node:https';
import type { Stream, StreamIo } from '../core/api.js';
import type { DriveHandle } from '../core/drive.js';
import type { Service } from '../core/service.js';

const CALL_PATH = 'api/process/call';

/** The largest reply read, bytes: a remote's answer is JSON, not a stream of output. */
const MAX_REPLY = 64 << 20;

class HttpStream implements Stream {
  #pending: Promise<string> | null = null;
  #request: http.ClientRequest | null = null;

  readonly #endpoint: DriveHandle;

  constructor(endpoint: DriveHandle) {
    this.#endpoint = endpoint;
  }

  send(data: string, options: StreamIo = {}): Promise<void> {
    const endpoint = this.#endpoint;
    const url = new URL(
      CALL_PATH,
      endpoint.transport.href.endsWith('/') ? endpoint.transport : `${endpoint.transport.href}/`,
    );
    const secure = url.protocol === 'https:';
    const body = Buffer.from(data, 'utf8');
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': body.length,
      ...(endpoint.token === undefined ? {} : { authorization: `Bearer ${endpoint.token}` }),
    };
    const request = (secure ? https : http).request(url, {
      method: 'POST',
      headers,
      signal: options.signal,
      ...(secure && endpoint.ca !== undefined ? { ca: endpoint.ca } : {}),
    });
    this.#request = request;
    this.#pending = new Promise<string>((resolve, reject) => {
      request.once('error', reject);
      request.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_REPLY) {
            res.destroy(new Error(`reply larger than ${MAX_REPLY} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.once('error', reject);
        // A connection dropped mid-reply ends the response 'aborted', not in error, on some
        // Node lines: a short body is a failure, not an answer.
        res.once('close', () => {
          if (!res.complete) {
            const e = Object.assign(
              new Error('the connection closed before the reply was complete'),
              {
                code: 'ECONNRESET',
              },
            );
            reject(e);
            return;
          }
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
    });
    // The reply is awaited in receive(); until then a rejection is not unhandled.
    this.#pending.catch(() => {});
    request.end(body);
    return Promise.resolve();
  }

  receive(_options: StreamIo = {}): Promise<string> {
    if (this.#pending === null) return Promise.reject(new Error('receive before send'));
    const p = this.#pending;
    this.#pending = null;
    return p;
  }

  close(): void {
    this.#request?.destroy();
    this.#request = null;
  }
}

/**
 * A service that registers the http and https protocol handlers on its core.
 *
 * @example
 * core.use(httpStreams());
 * core.drive().new({ name: 'a', transport: 'https://a:8790/', token, ca });
 * const r = await core.action('a:process.run').run({ command: 'uname' });
 */
export function httpStreams(): Service {
  return {
    name: 'http-streams',
    order: 0,
    onStartup: (core) => {
      const factory = (endpoint: DriveHandle) => new HttpStream(endpoint);
      core.api().registerProtocol('http', factory, { replace: true });
      core.api().registerProtocol('https', factory, { replace: true });
    },
  };
}
