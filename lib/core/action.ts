/**
 * Action: a named, registered callable, the atomic unit of work and the permission boundary
 * ("registration is permission"). `Action.run` is the single enforcement point: registration,
 * abort, entitlement and input schema are checked in that order before the handler runs, and
 * whatever the handler does, the caller gets a `Result`, never an exception.
 */
import type { z } from 'zod';
import type { Result } from '../result.js';
import type { Core } from './core.js';
import type { Entitlement } from './entitlement.js';
import { CoreError, domainKind, toError } from './errors.js';
import type { EventBus } from './events.js';
import { ID } from './id.js';
import type { CoreLogger } from './logger.js';
import { fail, isResult, ok } from './result.js';
import type { InputValidator } from './validate.js';

/** What a handler gets besides its input. */
export interface ActionContext {
  /** The action's own name, for handlers shared by several actions. */
  readonly action: string;
  /** Aborted when the caller gives up; long handlers should stop work and return. */
  readonly signal: AbortSignal;
  readonly core: Core;
  /** The caller's context data (`run(input, { context })`), as the entitlement checker saw it. */
  readonly context: Readonly<Record<string, unknown>>;
  /**
   * Reports progress of a `runAsync` call as an `action.progress` event (seed 001 §18.8
   * "background with progress"); does nothing for other calls.
   */
  readonly progress: (value: unknown) => void;
}

/**
 * Returns the value (or a Result) or throws; a throw becomes a failed Result for the caller.
 *
 * @example
 * const handler: ActionHandler<{ dir: string }, string> = async ({ dir }, { signal }) =>
 *   readFile(path.join(dir, 'VERSION'), { encoding: 'utf8', signal });
 */
export type ActionHandler<I = unknown, O = unknown> = (
  input: I,
  ctx: ActionContext,
) => O | Result<O> | Promise<O | Result<O>>;

export interface ActionOptions<I = unknown, O = unknown> {
  /** For humans and agents listing the capability map. */
  description?: string;
  /** Zod schema the input is validated (and defaulted, coerced) against before the handler. */
  schema?: z.ZodType<I>;
  /**
   * Zod schema of the value. Not checked at run time (that would cost every call); it is the
   * contract published to clients (the OpenAPI document), and the API tests hold the server
   * to it.
   */
  output?: z.ZodType<O>;
  /** Replace an existing action of the same name instead of refusing the duplicate. */
  replace?: boolean;
}

/** What `runAsync` answers at once. */
export interface AsyncRun<O> {
  /** `ID()` of this run, as in its `action.progress` / `action.completed` events. */
  readonly id: string;
  /** Settles with the run's Result; never rejects. */
  readonly done: Promise<Result<O, CoreError>>;
  /** Aborts the run (its handler sees ctx.signal aborted). */
  abort(reason?: unknown): void;
}

/** What `Action.def()` shows of a registered action. */
export interface ActionDef<I = unknown, O = unknown> {
  readonly name: string;
  readonly description: string;
  readonly schema: z.ZodType<I> | undefined;
  readonly output: z.ZodType<O> | undefined;
}

export interface ActionStats {
  /** Calls that reached the handler. */
  readonly runs: number;
  /** Handler throws, rejections and failed Results. */
  readonly failures: number;
  /** Calls refused by the entitlement checker. */
  readonly denied: number;
}

export interface ActionRunOptions {
  signal?: AbortSignal;
  /** Quantity asked of the entitlement checker. Default 1. */
  quantity?: number;
  /** Passed to the entitlement checker and the handler: workspace, user, surface. */
  context?: Readonly<Record<string, unknown>>;
  /** @internal Set by runAsync: where the handler's progress goes. */
  onProgress?: (value: unknown) => void;
  /**
   * Deadline in ms for a remote action (`host:action`): the seed's ctx deadline. The remote
   * is told too, and aborts its work there.
   */
  timeout?: number;
}

/** @internal One registered action: its definition and its counters. */
export interface ActionEntry {
  readonly def: ActionDef;
  readonly handler: ActionHandler;
  readonly validate: InputValidator | undefined;
  runs: number;
  failures: number;
  denied: number;
}

/** @internal What an Action needs from its Core; kept narrow so action.ts stays a leaf. */
export interface ActionHost {
  readonly core: Core;
  readonly events: EventBus;
  readonly logger: CoreLogger;
  lookupAction(name: string): ActionEntry | undefined;
  checkEntitlement(
    action: string,
    quantity: number,
    data: Readonly<Record<string, unknown>>,
  ): Entitlement;
  countFailure(): void;
  countDenied(): void;
  /** Registered action names matching a dotted glob (the name itself when it has none). */
  matchActions(glob: string): string[];
  /** Runs `action` on the core behind drive entry `host` (lib/core/api.ts). */
  remote(
    host: string,
    action: string,
    input: unknown,
    options: ActionRunOptions,
  ): Promise<Result<unknown, CoreError>>;
}

const NO_CONTEXT: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * A handle on an action name. It is looked up at each call, so a handle taken before a
 * service registers the action works after it does.
 *
 * @example
 * const log = core.action<{ dir: string }, string>('git.log');
 * if (log.exists()) {
 *   const r = await log.run({ dir: '/repo' });
 *   if (r.ok) console.log(r.value);
 * }
 */
export class Action<I = unknown, O = unknown> {
  /** @internal Built by `core.action(name)`. */
  constructor(
    readonly name: string,
    readonly host: ActionHost,
  ) {}

  /**
   * @example
   * core.action('process.run').exists(); // false in a sandboxed core
   */
  exists(): boolean {
    return this.host.lookupAction(this.name) !== undefined;
  }

  /**
   * The definition, or undefined when not registered.
   *
   * @example
   * core.action('agentic.dispatch').def()?.description;
   * core.action('process.get').def()?.output; // the zod schema of its value
   */
  def(): ActionDef<I, O> | undefined {
    return this.host.lookupAction(this.name)?.def as ActionDef<I, O> | undefined;
  }

  /**
   * Counters since registration (zero when not registered).
   *
   * @example
   * core.action('my.thing').stats().failures; // 1
   */
  stats(): ActionStats {
    const entry = this.host.lookupAction(this.name);
    return { runs: entry?.runs ?? 0, failures: entry?.failures ?? 0, denied: entry?.denied ?? 0 };
  }

  /**
   * Runs the action. Never rejects: every refusal and failure is a failed Result carrying a
   * CoreError: the machinery's own kinds (`NotRegistered`, `Aborted`, `NotEntitled`,
   * `InvalidInput`), the handler error's domain kind (`NonZeroExit`, `TimedOut`,
   * `SpawnFailed`... with the error itself as `cause`), or `HandlerFailed` for an untyped throw.
   *
   * @example
   * const r = await core.action('process.run').run({ command: 'git', args: ['log'] }, { signal });
   * if (!r.ok) console.error(r.error.kind, r.error.message);
   */
  async run(input?: I, options: ActionRunOptions = {}): Promise<Result<O, CoreError>> {
    const { name, host } = this;
    const entry = host.lookupAction(name);
    if (!entry) {
      const colon = name.indexOf(':');
      // `charon:agentic.status` (seed 001 §19.6): the action of another machine's core.
      if (colon > 0)
        return this.#remote(name.slice(0, colon), name.slice(colon + 1), input, options);
      return fail(
        new CoreError('NotRegistered', `action ${name}: not registered`, { action: name }),
      );
    }
    const { signal } = options;
    if (signal?.aborted) return fail(aborted(name, signal));

    const quantity = options.quantity ?? 1;
    const context = options.context ?? NO_CONTEXT;
    const entitlement = host.checkEntitlement(name, quantity, context);
    if (!entitlement.allowed) {
      entry.denied++;
      host.countDenied();
      const reason = entitlement.reason || 'denied by entitlement checker';
      host.events.publish('security.denied', {
        core: host.core.name,
        action: name,
        quantity,
        reason,
      });
      return fail(
        new CoreError('NotEntitled', `action ${name}: not entitled: ${reason}`, {
          action: name,
          reason,
        }),
      );
    }

    let value: unknown = input;
    if (entry.validate) {
      const checked = entry.validate(input);
      if (!checked.ok) {
        const { field, cause } = checked;
        const message = `action ${name}: invalid input at ${field}: ${checked.message}`;
        return fail(new CoreError('InvalidInput', message, { action: name, field, cause }));
      }
      value = checked.value;
    }

    entry.runs++;
    const ctx: ActionContext = {
      action: name,
      signal: signal ?? NEVER_ABORTED,
      core: host.core,
      context,
      progress: options.onProgress ?? NO_PROGRESS,
    };
    const outcome = await raceAbort(invoke(entry.handler, value, ctx), signal);
    if (outcome === ABORTED) return fail(aborted(name, signal));
    if (outcome.ok) return outcome as Result<O, CoreError>;

    entry.failures++;
    host.countFailure();
    const error = outcome.error instanceof CoreError ? outcome.error : wrap(name, outcome.error);
    // An error with a domain kind (NonZeroExit, TimedOut, NotFound...) is an answer the caller
    // branches on, not a crash: only an untyped throw is logged.
    if (error.kind === 'HandlerFailed') {
      host.logger.error(`action ${name} failed`, {
        action: name,
        kind: error.kind,
        error: outcome.error,
      });
    }
    return fail(error);
  }

  /**
   * Fire-and-forget to every action the name matches as a dotted glob (seed 001 §18.8,
   * `c.ACTION(msg)` -> `Broadcast`): each runs through `run` (entitlements, schemas) and
   * nobody waits. The value is how many were started; none is NotRegistered.
   *
   * @example
   * core.action('cache.*').broadcast({ key: 'user:7' }); // { ok: true, value: 3 }
   */
  broadcast(input?: I, options: ActionRunOptions = {}): Result<number, CoreError> {
    const names = this.host.matchActions(this.name);
    if (names.length === 0) {
      return fail(
        new CoreError('NotRegistered', `action ${this.name}: no action to broadcast to`, {
          action: this.name,
        }),
      );
    }
    for (const n of names) void new Action(n, this.host).run(input, options);
    return ok(names.length);
  }

  /**
   * First responder wins (seed 001 §18.8, `c.QUERY(q)` -> `Query`): every action the name
   * matches as a glob runs at once; the first success is the answer. All failed: the first
   * failure (in name order). None matched: NotRegistered.
   *
   * @example
   * const r = await core.action('resolver.*').query({ host: 'charon' });
   */
  async query(input?: I, options: ActionRunOptions = {}): Promise<Result<O, CoreError>> {
    const names = this.host.matchActions(this.name);
    if (names.length === 0) {
      return fail(
        new CoreError('NotRegistered', `action ${this.name}: no action to query`, {
          action: this.name,
        }),
      );
    }
    const runs = names.map((n) => new Action<I, O>(n, this.host).run(input, options));
    const first = await new Promise<Result<O, CoreError> | null>((resolve) => {
      let left = runs.length;
      for (const p of runs) {
        void p.then((r) => {
          if (r.ok) resolve(r);
          else if (--left === 0) resolve(null);
        });
      }
    });
    if (first !== null) return first;
    return (await runs[0]) as Result<O, CoreError>;
  }

  /**
   * Starts the action in the background (seed 001 §18.8, `PerformAsync` -> `RunAsync`): the
   * value at once is `{ id, done, abort }`; `done` settles with the run's Result. The handler's
   * `ctx.progress(v)` publishes `action.progress` { id, action, progress }, and the end
   * publishes `action.completed` { id, action, ok, kind? }.
   *
   * @example
   * const job = core.action('repo.sweep').runAsync({ all: true });
   * if (job.ok) { core.events.subscribe('action.progress', log); const r = await job.value.done; }
   */
  runAsync(input?: I, options: ActionRunOptions = {}): Result<AsyncRun<O>, CoreError> {
    const { name, host } = this;
    if (!this.exists() && !name.includes(':')) {
      return fail(
        new CoreError('NotRegistered', `action ${name}: not registered`, { action: name }),
      );
    }
    const id = ID();
    const abort = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    const onProgress = (progress: unknown) =>
      host.events.publish('action.progress', { id, action: name, progress });
    const done = this.run(input, { ...options, signal, onProgress }).then((r) => {
      host.events.publish('action.completed', {
        id,
        action: name,
        ok: r.ok,
        ...(r.ok ? {} : { kind: r.error.kind }),
      });
      return r;
    });
    return ok({ id, done, abort: (reason?: unknown) => abort.abort(reason) });
  }

  // Our entitlement checker gates the call under its full name; the remote's own policy,
  // entitlements and audit apply there.
  async #remote(
    remoteHost: string,
    action: string,
    input: I | undefined,
    options: ActionRunOptions,
  ): Promise<Result<O, CoreError>> {
    const { name, host } = this;
    if (options.signal?.aborted) return fail(aborted(name, options.signal));
    const quantity = options.quantity ?? 1;
    const entitlement = host.checkEntitlement(name, quantity, options.context ?? NO_CONTEXT);
    if (!entitlement.allowed) {
      host.countDenied();
      const reason = entitlement.reason || 'denied by entitlement checker';
      return fail(
        new CoreError('NotEntitled', `action ${name}: not entitled: ${reason}`, {
          action: name,
          reason,
        }),
      );
    }
    const r = await host.remote(remoteHost, action, input, options);
    if (!r.ok) host.countFailure();
    return r as Result<O, CoreError>;
  }
}

const ABORTED = Symbol('aborted');
const NO_PROGRESS = (): void => {};

// The handler's error under the action's name, its domain kind at `kind` (seed 004 §5).
function wrap(name: string, cause: Error): CoreError {
  const kind = domainKind(cause);
  if (kind === undefined) {
    return new CoreError('HandlerFailed', `action ${name}: handler failed: ${cause.message}`, {
      action: name,
      cause,
    });
  }
  const code = (cause as { code?: unknown }).code;
  return new CoreError(kind, `action ${name}: ${cause.message}`, {
    action: name,
    cause,
    origin: cause.name,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
  });
}

// One shared signal for runs without their own: an AbortController per run cost more than
// the rest of the action machinery (bench 11), and nothing ever aborts this one.
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

async function invoke(
  handler: ActionHandler,
  input: unknown,
  ctx: ActionContext,
): Promise<Result<unknown>> {
  try {
    const out = await handler(input, ctx);
    // A handler may answer with a Result itself (the house style for expected failures).
    return isResult(out) ? out : ok(out);
  } catch (e) {
    return fail(toError(e));
  }
}

async function raceAbort<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T | typeof ABORTED> {
  if (!signal) return work;
  let onAbort: (() => void) | undefined;
  const abortedP = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, abortedP]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

function aborted(name: string, signal: AbortSignal | undefined): CoreError {
  const reason = signal?.reason;
  const why =
    reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  return new CoreError('Aborted', `action ${name}: aborted: ${why}`, {
    action: name,
    cause: reason,
  });
}
