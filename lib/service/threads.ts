/**
 * The thread.* actions of the process service: create, join and pin worker threads, with
 * the policy's CPU set and realtime ceiling applied before anything starts.
 */
import { z } from 'zod';
import type { ActionContext } from '../core/action.js';
import type { Core } from '../core/core.js';
import { outputSchema } from '../core/output-schema.js';
import { ProcessError } from '../errors.js';
import { setThreadAffinity } from '../thread/control.js';
import { createThread, type ThreadOptions } from '../thread/create.js';
import type { ThreadHandle, ThreadResult } from '../thread/handle.js';
import { joinThread } from '../thread/join.js';
import { nextId } from './ids.js';
import { type PolicyGate, refusal } from './policy.js';

const threadCreateInput = z.object({
  module: z.string().min(1),
  name: z.string().optional(),
  affinity: z.array(z.number().int().nonnegative()).optional(),
  priority: z.unknown().optional(),
  stackSize: z.number().int().positive().optional(),
  detached: z.boolean().optional(),
  data: z.unknown().optional(),
  export: z.string().optional(),
});
const threadJoinInput = z.object({
  id: z.string().min(1),
  timeout: z.number().nonnegative().optional(),
});
const threadAffinityInput = z.object({
  id: z.string().min(1),
  cpus: z.array(z.number().int().nonnegative()),
});

const threadCreateValue = z.object({ id: z.string(), tid: z.int().positive() });
// `value` is whatever the start function returned (structured-cloned); `error` an Error,
// which crosses JSON as `{}`.
const threadResultSchema = outputSchema<ThreadResult>()(
  z.object({
    exitCode: z.int(),
    value: z.unknown(),
    error: z.instanceof(Error).optional(),
  }),
);
const threadAffinityValue = z.object({ id: z.string(), cpus: z.array(z.int().nonnegative()) });

/** What the thread actions need from the service around them. */
export interface ThreadActionHost {
  readonly threads: Map<string, ThreadHandle>;
  readonly gate: PolicyGate | null;
  /** Reports a policy refusal (bus event and audit record) before it is returned. */
  denied(ctx: ActionContext, error: ProcessError, subject: Record<string, unknown>): void;
}

function notFound(id: string): ProcessError {
  return new ProcessError('NotFound', `thread ${id}: no such managed thread`, { code: 'ESRCH' });
}

function admit(
  host: ThreadActionHost,
  ctx: ActionContext,
  request: Parameters<PolicyGate['admitThread']>[0],
): void {
  try {
    host.gate?.admitThread(request);
  } catch (e) {
    if (!(e instanceof ProcessError) || e.kind !== 'PermissionDenied') throw e;
    host.denied(ctx, e, { ...request });
    throw refusal(ctx.action, e);
  }
}

/**
 * Registers thread.create, thread.join and thread.affinity on `core`.
 *
 * @example
 * registerThreadActions(core, { threads: new Map(), gate: null, denied: () => {} });
 * await core.action('thread.create').run({ module: new URL('./work.js', import.meta.url).href });
 */
export function registerThreadActions(core: Core, host: ThreadActionHost): void {
  core.action(
    'thread.create',
    async (input: z.infer<typeof threadCreateInput>, ctx) => {
      const { module, ...rest } = input;
      admit(host, ctx, {
        affinity: rest.affinity,
        priority: rest.priority as ThreadOptions['priority'],
      });
      const t = await createThread(module, rest as ThreadOptions);
      const id = nextId('thread');
      host.threads.set(id, t);
      core.events.publish('thread.started', { id, tid: t.tid, name: t.name });
      void t.exited.then((r) =>
        core.events.publish('thread.exited', {
          id,
          tid: t.tid,
          exitCode: r.exitCode,
          error: r.error?.message,
        }),
      );
      return { id, tid: t.tid };
    },
    {
      description: 'Create a pinned, prioritised worker thread',
      schema: threadCreateInput,
      output: threadCreateValue,
    },
  );

  core.action(
    'thread.join',
    async (input: z.infer<typeof threadJoinInput>): Promise<ThreadResult> => {
      const t = host.threads.get(input.id);
      if (!t) throw notFound(input.id);
      return joinThread(t, input.timeout === undefined ? undefined : { timeout: input.timeout });
    },
    {
      description: 'Join a thread (optional timeout, ms)',
      schema: threadJoinInput,
      output: threadResultSchema,
    },
  );

  core.action(
    'thread.affinity',
    (input: z.infer<typeof threadAffinityInput>, ctx) => {
      const t = host.threads.get(input.id);
      if (!t) throw notFound(input.id);
      admit(host, ctx, { affinity: input.cpus });
      setThreadAffinity(t, input.cpus);
      return { id: input.id, cpus: input.cpus };
    },
    {
      description: 'Pin a running thread to CPUs',
      schema: threadAffinityInput,
      output: threadAffinityValue,
    },
  );
}
