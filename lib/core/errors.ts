/**
 * CoreError: the one error class of the Core container. `kind` is what callers branch on;
 * `action`, `field`, `service` and `task` name the thing at fault so a failed `Result` can be
 * acted on without parsing the message.
 */

export type CoreErrorKind =
  | 'NotRegistered'
  | 'NotEntitled'
  | 'InvalidInput'
  | 'HandlerFailed'
  | 'Duplicate'
  | 'Locked'
  | 'Lifecycle'
  | 'Timeout'
  | 'Aborted'
  /** A service's policy refused the request (not an entitlement: a rule about the input). */
  | 'PermissionDenied';

/** One step of a task run, as reported by `Task.run` (see `TaskStepRecord` in task.ts). */
export interface CoreErrorStepRecord {
  readonly path: string;
  readonly action: string;
  readonly result: { ok: true; value: unknown } | { ok: false; error: Error };
}

export interface CoreErrorDetails {
  /** The action the failing call was about (`process.run`). */
  action?: string;
  /** For bad input: the field at fault, as a dotted path (`args.0`), `(root)` for the whole. */
  field?: string;
  /** The service a lifecycle failure or timeout was about. */
  service?: string;
  /** The task a failed `Task.run` was about. */
  task?: string;
  /** The registry a `Locked` / `Duplicate` error was about (`actions`, `services`...). */
  registry?: string;
  /** The entry a registry write was about (not `name`: that is the Error's own). */
  entry?: string;
  /** For NotEntitled and PermissionDenied: why. */
  reason?: string;
  /** For a failed task: every step that ran, in order, the failing one last. */
  steps?: readonly CoreErrorStepRecord[];
  /** What the handler threw, the schema issue, the service's own error. */
  cause?: unknown;
}

/**
 * @example
 * const r = await core.action('process.run').run({ command: 'git', args: ['log'] });
 * if (!r.ok && r.error instanceof CoreError && r.error.kind === 'NotRegistered') {
 *   console.error('this core may not run processes');
 * }
 */
export class CoreError extends Error {
  readonly kind: CoreErrorKind;
  readonly action?: string;
  readonly field?: string;
  readonly service?: string;
  readonly task?: string;
  readonly registry?: string;
  readonly entry?: string;
  readonly reason?: string;
  readonly steps?: readonly CoreErrorStepRecord[];

  constructor(kind: CoreErrorKind, message: string, details: CoreErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CoreError';
    this.kind = kind;
    for (const [key, value] of Object.entries(details)) {
      if (value !== undefined && key !== 'cause') {
        Object.defineProperty(this, key, { value, enumerable: true, writable: false });
      }
    }
  }
}

/**
 * Normalises anything thrown into an Error, so a failed Result always carries one.
 *
 * @example
 * try { handler() } catch (e) { return fail(toError(e)); }
 */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === 'string' ? thrown : `non-error thrown: ${String(thrown)}`, {
    cause: thrown,
  });
}
