/**
 * Drive (seed 001 §19.4): the phone book of remote endpoints. It holds where a named endpoint
 * is (`transport`, a URL whose scheme picks the protocol handler) and how to prove who we are
 * (`token`); `core.api()` does the connecting. Pure data: nothing here opens a socket.
 */
import { CoreError } from './errors.js';
import { Registry } from './registry.js';

/** One endpoint, as `core.drive().new()` took it. */
export interface DriveHandle {
  readonly name: string;
  /** `https://charon:8790/`: the scheme names the protocol handler (`core.api().registerProtocol`). */
  readonly transport: URL;
  /** Sent as the remote expects it (Bearer for lib/api serve()); never logged. */
  readonly token?: string;
  /** PEM CA certificate(s) to verify an https endpoint against, besides the system's. */
  readonly ca?: string;
  /** Default deadline of a call through this endpoint, ms. */
  readonly timeout?: number;
}

export interface DriveOptions {
  name: string;
  transport: string;
  token?: string;
  ca?: string;
  timeout?: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * @example
 * core.drive().new({ name: 'charon', transport: 'https://10.69.69.165:8790/', token });
 * core.drive().get('charon')?.transport.host; // '10.69.69.165:8790'
 */
export class Drive {
  readonly #entries = new Registry<DriveHandle>('drives');

  /**
   * Adds (or with `replace`, replaces) a named endpoint. The name may not hold ':', which
   * splits `name:action` in a remote action call.
   *
   * @example
   * core.drive().new({ name: 'a', transport: 'http://127.0.0.1:8790/', token });
   */
  new(options: DriveOptions, { replace = false }: { replace?: boolean } = {}): DriveHandle {
    const bad = (field: string, why: string): never => {
      throw new CoreError('InvalidInput', `drive.new: ${field} ${why}`, { field });
    };
    if (typeof options?.name !== 'string' || !NAME.test(options.name)) {
      bad('name', `must be letters, digits, '_', '.', '-' (got ${JSON.stringify(options?.name)})`);
    }
    let transport: URL;
    try {
      transport = new URL(options.transport);
    } catch {
      return bad(
        'transport',
        `must be a URL (got ${JSON.stringify(options.transport)?.slice(0, 100)})`,
      );
    }
    if (options.token !== undefined && typeof options.token !== 'string')
      bad('token', 'must be a string');
    if (
      options.timeout !== undefined &&
      !(Number.isInteger(options.timeout) && options.timeout > 0)
    ) {
      bad('timeout', 'must be a positive integer of ms');
    }
    const handle: DriveHandle = Object.freeze({
      name: options.name,
      transport,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    });
    this.#entries.set(options.name, handle, { replace });
    return handle;
  }

  /** @example core.drive().get('charon'); */
  get(name: string): DriveHandle | undefined {
    return this.#entries.get(name);
  }

  /** @example core.drive().names(); // ['charon'] */
  names(): string[] {
    return this.#entries.names();
  }
}
