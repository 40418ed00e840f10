/**
 * CoreError: the one error class of the Core container. `kind` is what callers branch on;
 * `action`, `field`, `service` and `task` name the thing at fault so a failed `Result` can be
 * acted on without parsing the message.
 */

import type { ProcessErrorKind } from '../errors.js';
import type { ThreadErrorKind } from '../thread/errors.js';

/** Failures of the action machinery itself: the call never reached, or never left, a handler. */
export type MachineryErrorKind =
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
  | 'PermissionDenied'
  /** A remote core could not be reached, or its answer could not be read (lib/core/remote.ts). */
  | 'Unreachable';

/**
 * What a failed action says at `error.kind`: the machinery's own kind, or the kind of the
 * domain error the handler failed with (seed 004 §5 and 001 §18.3: a caller of process.run
 * branches on `NonZeroExit`, `TimedOut`, `SpawnFailed`... directly). A handler's error of
 * another domain with its own string `kind` (PipelineError's) comes through as is, hence the
 * open end; a plain Error without one is `HandlerFailed`.
 */
export type CoreErrorKind =
  | MachineryErrorKind
  | ProcessErrorKind
  | ThreadErrorKind
  | (string & { readonly domainKind?: never });

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
  /** For a domain kind: the class of the handler's error (`ProcessError`, `ThreadError`). */
  origin?: string;
  /** For a domain kind: the handler error's `code` (errno name, exit code, signal name). */
  code?: string | number;
  /** For a remote call: the endpoint (drive name) it went to. */
  remote?: string;
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
  readonly origin?: string;
  readonly code?: string | number;
  readonly remote?: string;

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
 * The kind a handler's error brings to `error.kind`: its own string `kind` (ProcessError,
 * ThreadError, PipelineError...) or undefined for an Error without one.
 *
 * @example
 * domainKind(new ProcessError('NonZeroExit', 'git exited with code 1')); // 'NonZeroExit'
 */
export function domainKind(e: Error): string | undefined {
  const kind = (e as { kind?: unknown }).kind;
  return typeof kind === 'string' && kind.length > 0 ? kind : undefined;
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
