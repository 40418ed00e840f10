/**
 * What an API client sees when a call fails: `{ error: { kind, message } }` with the status
 * that says whose fault it is. Bad input is always 4xx; 500 is kept for our own bugs.
 */
import { z } from 'zod';
import { CoreError } from '../core/errors.js';
import { ProcessError } from '../errors.js';
import { PipelineError } from '../runner/errors.js';
import { ThreadError } from '../thread/errors.js';

/**
 * The one error body of the API, published as `Error` in the OpenAPI document.
 *
 * @example
 * apiErrorBodySchema.parse(await res.json()).error.kind; // 'NotFound'
 */
export const apiErrorBodySchema = z.object({
  error: z.object({
    kind: z
      .string()
      .describe('what went wrong, to branch on: NotFound, InvalidInput, NonZeroExit…'),
    message: z.string().describe('names the operation and the offending value'),
    field: z.string().optional().describe('the input field at fault, for bad input'),
    exitCode: z
      .int()
      .nullable()
      .optional()
      .describe('a command that ran and failed: its exit code (null when killed)'),
    signal: z.string().nullable().optional().describe('a command that ran and failed: its signal'),
    stdout: z.string().optional().describe('a command that ran and failed: what it printed'),
    stderr: z.string().optional(),
    output: z
      .string()
      .optional()
      .describe("process.run's default: stdout and stderr together, in the order written"),
  }),
});
export type ApiErrorBody = z.infer<typeof apiErrorBodySchema>;

export interface ApiError {
  status: number;
  body: ApiErrorBody;
}

const PROCESS_STATUS: Record<string, number> = {
  NotFound: 404,
  InvalidCommand: 400,
  PermissionDenied: 403,
  TimedOut: 408,
  SpawnFailed: 422,
  // The request was carried out; the command it ran failed. Not our fault, not the client's
  // request's either: 422, with what the command printed.
  NonZeroExit: 422,
  TerminatedBySignal: 422,
  Unsupported: 501,
};

// The request was fine but the target's state refuses it: a pid file already held, or input
// to a child whose stdin nobody reads any more.
const CONFLICT_CODES = new Set([
  'EEXIST',
  'EPIPE',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
]);

function body(kind: string, message: string, field?: string): ApiError['body'] {
  return { error: field === undefined ? { kind, message } : { kind, message, field } };
}

/**
 * Maps an action's failure (a CoreError, usually carrying the handler's error as cause).
 *
 * @example
 * const { status, body } = apiError(result.error);
 */
export function apiError(e: Error): ApiError {
  if (e instanceof CoreError) {
    switch (e.kind) {
      case 'InvalidInput':
        return { status: 400, body: body('InvalidInput', e.message, e.field) };
      case 'NotEntitled':
      case 'PermissionDenied':
        return { status: 403, body: body(e.kind, e.message, e.field) };
      case 'NotRegistered':
        return { status: 501, body: body('NotRegistered', e.message) };
      case 'Timeout':
        return { status: 504, body: body('Timeout', e.message) };
      case 'Aborted':
        return { status: 503, body: body('Aborted', e.message) };
      case 'Unreachable':
        return { status: 502, body: body('Unreachable', e.message) };
      default:
        // A domain kind (NonZeroExit, NotFound...) or HandlerFailed: the handler's own error
        // decides the status and carries the details (exit code, output).
        if (e.cause instanceof Error && !(e.cause instanceof CoreError)) {
          const inner = apiError(e.cause);
          if (inner.status !== 500 || e.kind !== 'HandlerFailed') return inner;
        }
        return { status: 500, body: body(e.kind, e.message) };
    }
  }
  if (e instanceof ProcessError) {
    const status = CONFLICT_CODES.has(String(e.code)) ? 409 : (PROCESS_STATUS[e.kind] ?? 500);
    const out = body(e.kind, e.message, e.field);
    if (e.status !== undefined && (e.kind === 'NonZeroExit' || e.kind === 'TerminatedBySignal')) {
      Object.assign(out.error, {
        exitCode: e.status.code,
        signal: e.status.signal,
        // process.run's default is both streams in one, in the order written: `output`.
        ...(e.all === undefined
          ? { stdout: String(e.stdout ?? ''), stderr: String(e.stderr ?? '') }
          : { output: String(e.all) }),
      });
    }
    return { status, body: out };
  }
  if (e instanceof ThreadError) {
    const status =
      e.kind === 'NotFound'
        ? 404
        : e.kind === 'InvalidArgument'
          ? 400
          : e.kind === 'TimedOut'
            ? 408
            : 500;
    return { status, body: body(e.kind, e.message) };
  }
  if (e instanceof PipelineError) return { status: 400, body: body(e.kind, e.message) };
  return { status: 500, body: body('Internal', e.message) };
}

/**
 * An error of the HTTP layer itself (auth, routing, body).
 *
 * @example
 * reply.code(401).send(httpError('Unauthorized', 'a bearer token is required'));
 */
export function httpError(kind: string, message: string): ApiError['body'] {
  return body(kind, message);
}
