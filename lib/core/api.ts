/**
 * API (seed 001 §19): remote streams, and the remote action dispatch built on them. Drive says
 * where an endpoint is; a protocol handler registered for the transport's scheme opens the
 * Stream; `core.action('charon:process.run').run(input)` sends the call down one and answers
 * the same Result a local call would. No drive entry or no protocol handler: no capability
 * (NotRegistered), the same permission model as actions. Pure TS: the http/https handlers
 * live in lib/api (httpStreams()), which may use the network; this file only speaks JSON.
 */
import type { Result } from '../result.js';
import type { Drive, DriveHandle } from './drive.js';
import { CoreError } from './errors.js';
import { fail, ok } from './result.js';

export interface StreamIo {
  /** Gives up the send or receive (the call's AbortSignal and deadline). */
  signal?: AbortSignal;
}

/**
 * A named, bidirectional connection to a remote endpoint (seed 001 §19.3): write bytes, read
 * bytes. Request/response transports (HTTP) answer each send with one receive.
 *
 * @example
 * const s = core.api().stream('charon');
 * if (s.ok) { await s.value.send(payload); const reply = await s.value.receive(); s.value.close(); }
 */
export interface Stream {
  send(data: string, options?: StreamIo): Promise<void>;
  receive(options?: StreamIo): Promise<string>;
  close(): void;
}

/**
 * Opens a Stream to an endpoint; may throw (a bad transport URL for this protocol).
 *
 * @example
 * core.api().registerProtocol('mcp', (endpoint) => new McpStream(endpoint.transport, endpoint.token));
 */
export type StreamFactory = (endpoint: DriveHandle) => Stream;

/** What a remote core answers a call with (lib/api serve()'s POST /api/process/call). */
interface WireReply {
  ok?: boolean;
  value?: unknown;
  error?: { kind?: unknown; message?: unknown; field?: unknown; reason?: unknown; code?: unknown };
}

/** The options of a remote call (Action.run's, as far as they cross the wire). */
export interface RemoteCallOptions {
  signal?: AbortSignal;
  /** Deadline in ms; default the drive entry's `timeout`, else none. Sent to the remote too. */
  timeout?: number;
}

/**
 * @example
 * core.use(httpStreams());                                   // http and https
 * core.drive().new({ name: 'a', transport: 'https://a:8790/', token });
 * const r = await core.action('a:process.run').run({ command: 'uname' });
 */
export class Api {
  readonly #protocols = new Map<string, StreamFactory>();

  /** @internal Built by the Core. */
  constructor(private readonly drive: Drive) {}

  /**
   * Registers the factory for a transport scheme (`http`, `https`, `mcp`); `replace` to swap.
   *
   * @example
   * core.api().registerProtocol('mcp', factory);
   */
  registerProtocol(scheme: string, factory: StreamFactory, { replace = false } = {}): void {
    const key = scheme.toLowerCase().replace(/:$/, '');
    if (!/^[a-z][a-z0-9+.-]*$/.test(key)) {
      throw new CoreError(
        'InvalidInput',
        `api.registerProtocol: ${JSON.stringify(scheme)} is not a URL scheme`,
        {
          field: 'scheme',
        },
      );
    }
    if (typeof factory !== 'function') {
      throw new CoreError(
        'InvalidInput',
        `api.registerProtocol('${key}'): factory must be a function`,
        {
          field: 'factory',
        },
      );
    }
    if (this.#protocols.has(key) && !replace) {
      throw new CoreError('Duplicate', `api.registerProtocol: '${key}' already has a handler`, {
        registry: 'protocols',
        entry: key,
      });
    }
    this.#protocols.set(key, factory);
  }

  /** @example core.api().protocols(); // ['http', 'https'] */
  protocols(): string[] {
    return [...this.#protocols.keys()].sort();
  }

  /**
   * Opens a stream to the drive entry `name` through its scheme's handler.
   *
   * @example
   * const s = core.api().stream('a');
   */
  stream(name: string): Result<Stream, CoreError> {
    const endpoint = this.drive.get(name);
    if (endpoint === undefined) {
      return fail(
        new CoreError('NotRegistered', `api.stream: no drive entry named ${JSON.stringify(name)}`, {
          remote: name,
        }),
      );
    }
    const scheme = endpoint.transport.protocol.replace(/:$/, '');
    const factory = this.#protocols.get(scheme);
    if (factory === undefined) {
      return fail(
        new CoreError(
          'NotRegistered',
          `api.stream(${name}): no protocol handler for ${scheme}: (no handler, no capability)`,
          {
            remote: name,
          },
        ),
      );
    }
    try {
      return ok(factory(endpoint));
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      return fail(
        new CoreError('Unreachable', `api.stream(${name}): ${error.message}`, {
          remote: name,
          cause: error,
        }),
      );
    }
  }

  /**
   * @internal Runs `action` on the core behind drive entry `name` (seed 001 §19.6): one JSON
   * request down a stream, one reply back, mapped onto the Result a local run gives.
   */
  async call(
    name: string,
    action: string,
    input: unknown,
    options: RemoteCallOptions,
  ): Promise<Result<unknown, CoreError>> {
    const full = `${name}:${action}`;
    const opened = this.stream(name);
    if (!opened.ok) {
      const e = opened.error;
      return fail(
        new CoreError(e.kind, `action ${full}: ${e.message}`, {
          action: full,
          remote: name,
          cause: e,
        }),
      );
    }
    const stream = opened.value;
    const timeout = options.timeout ?? this.drive.get(name)?.timeout;
    const signals = [
      options.signal,
      timeout === undefined ? undefined : AbortSignal.timeout(timeout),
    ].filter((s): s is AbortSignal => s !== undefined);
    const signal =
      signals.length === 0
        ? undefined
        : signals.length === 1
          ? signals[0]
          : AbortSignal.any(signals);
    try {
      await stream.send(
        JSON.stringify({ action, input, ...(timeout === undefined ? {} : { timeoutMs: timeout }) }),
        { signal },
      );
      const text = await stream.receive({ signal });
      return reply(full, name, text);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      if (signal?.aborted) {
        const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError';
        return fail(
          new CoreError(
            timedOut ? 'Timeout' : 'Aborted',
            timedOut ? `action ${full}: no answer within ${timeout} ms` : `action ${full}: aborted`,
            { action: full, remote: name, cause: signal.reason },
          ),
        );
      }
      const code = (error as { code?: unknown }).code;
      return fail(
        new CoreError('Unreachable', `action ${full}: ${error.message}`, {
          action: full,
          remote: name,
          cause: error,
          ...(typeof code === 'string' ? { code } : {}),
        }),
      );
    } finally {
      stream.close();
    }
  }
}

// The remote's reply -> our Result. Its error keeps the remote's kind (NonZeroExit,
// PermissionDenied, NotEntitled...) so a caller branches the same as on a local failure.
function reply(full: string, name: string, text: string): Result<unknown, CoreError> {
  let body: WireReply;
  try {
    body = JSON.parse(text) as WireReply;
  } catch {
    return fail(
      new CoreError(
        'Unreachable',
        `action ${full}: the remote answered something that is not JSON: ${JSON.stringify(text.slice(0, 80))}`,
        { action: full, remote: name },
      ),
    );
  }
  if (body?.ok === true) return ok(body.value);
  const err = body?.error;
  if (typeof err !== 'object' || err === null || typeof err.kind !== 'string') {
    return fail(
      new CoreError(
        'Unreachable',
        `action ${full}: the remote's reply has neither a value nor an error`,
        { action: full, remote: name },
      ),
    );
  }
  return fail(
    new CoreError(err.kind, `action ${full}: remote: ${String(err.message ?? '')}`, {
      action: full,
      remote: name,
      ...(typeof err.field === 'string' ? { field: err.field } : {}),
      ...(typeof err.reason === 'string' ? { reason: err.reason } : {}),
      ...(typeof err.code === 'string' || typeof err.code === 'number' ? { code: err.code } : {}),
      cause: err,
    }),
  );
}
