/**
 * POST /api/process/call: the receiving end of a remote action (seed 001 §19.6). Another core's
 * `core.action('<us>:process.run').run(input)` arrives here as `{ action, input, timeoutMs? }`
 * and runs through our own Action.run, so our registrations, entitlement checker, policy and
 * audit decide, exactly as for a local caller. The answer is `{ ok: true, value }`, or
 * `{ ok: false, error: { kind, message, ... } }` with the REST status of that error, so the
 * caller gets the same kinds back. The caller's deadline becomes our AbortSignal, and so does
 * its connection going away.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core/core.js';
import { CoreError } from '../core/errors.js';
import { apiError } from './errors.js';

interface CallBody {
  action?: unknown;
  input?: unknown;
  timeoutMs?: unknown;
}

/**
 * @example
 * app.post('/api/process/call', remoteCall(core, { actor: { kind: 'user', id: 'api' } }));
 */
export function remoteCall(core: Core, context: Readonly<Record<string, unknown>>) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const body = (req.body ?? {}) as CallBody;
    if (typeof body.action !== 'string' || body.action.length === 0) {
      return reply.code(400).send({
        ok: false,
        error: {
          kind: 'InvalidInput',
          message: 'call: action must be a non-empty string',
          field: 'action',
        },
      });
    }
    const timeoutMs = body.timeoutMs;
    if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && (timeoutMs as number) > 0)) {
      return reply.code(400).send({
        ok: false,
        error: {
          kind: 'InvalidInput',
          message: 'call: timeoutMs must be a positive integer',
          field: 'timeoutMs',
        },
      });
    }
    const gone = new AbortController();
    // The caller hung up (its AbortSignal, its process died): stop the work it asked for.
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort(new Error('the caller disconnected'));
    };
    reply.raw.once('close', onClose);
    const signals = [gone.signal];
    if (typeof timeoutMs === 'number') signals.push(AbortSignal.timeout(timeoutMs));
    const signal = signals.length === 1 ? gone.signal : AbortSignal.any(signals);
    const r = await core
      .action(body.action)
      .run(body.input, { signal, context: { ...context, surface: 'remote' } });
    if (r.ok) return reply.code(200).send({ ok: true, value: r.value ?? null });
    const { status, body: errBody } = apiError(r.error);
    const e = r.error;
    const extra =
      e instanceof CoreError
        ? {
            ...(e.reason === undefined ? {} : { reason: e.reason }),
            ...(e.code === undefined ? {} : { code: e.code }),
          }
        : {};
    return reply.code(status).send({ ok: false, error: { ...errBody.error, ...extra } });
  };
}
