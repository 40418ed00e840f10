/**
 * Core: the container. It holds the action, task and service registries, the entitlement
 * checker and the event bus, and runs the service lifecycle. Everything a caller may do goes
 * through a registered action, so what a Core can do is exactly what was registered in it.
 */
import {
  Action,
  type ActionEntry,
  type ActionHandler,
  type ActionHost,
  type ActionOptions,
} from './action.js';
import { Api } from './api.js';
import { Drive } from './drive.js';
import { allowAll, Entitlement, type EntitlementChecker } from './entitlement.js';
import { CoreError, toError } from './errors.js';
import { EventBus } from './events.js';
import { type CoreLogger, consoleLogger } from './logger.js';
import { ProcessApi } from './process-sugar.js';
import { Registry } from './registry.js';
import { Scheduler, type TaskInfo } from './schedule.js';
import {
  DEFAULT_STOP_TIMEOUT_MS,
  type Service,
  type StopReport,
  startOrder,
  startServices,
  stopServices,
} from './service.js';
import { Task, type TaskDef, validateTaskDef } from './task.js';
import { inputValidator } from './validate.js';

export interface CoreOptions {
  /** Names the core in events, logs and errors. */
  name: string;
  /** Per-service shutdown bound in ms. Default 5000. */
  stopTimeout?: number;
  /** Default per-subscriber event queue bound. Default 1024. */
  queueSize?: number;
  /** Where failures are written. Default: console, prefixed with the core's name. */
  logger?: CoreLogger;
}

export type CoreState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface CoreStats {
  /** Handler throws, rejections and failed Results, over every action. */
  readonly actionFailures: number;
  /** Calls refused by the entitlement checker, over every action. */
  readonly denied: number;
}

export interface TaskOptions {
  /** Replace an existing task of the same name instead of refusing the duplicate. */
  replace?: boolean;
}

/**
 * @example
 * const core = new Core({ name: 'app' });
 * core.use(processService());          // registration is permission
 * await core.start();
 * const r = await core.process().run('git', 'log');
 * await core.stop();
 */
export class Core {
  readonly name: string;
  readonly events: EventBus;
  readonly logger: CoreLogger;
  readonly #actions = new Registry<ActionEntry>('actions');
  readonly #tasks = new Registry<TaskDef>('tasks');
  readonly #services = new Registry<Service>('services');
  readonly #usage = new Map<string, number>();
  readonly #stopTimeout: number;
  readonly #host: ActionHost;
  readonly #scheduler: Scheduler;
  readonly #drive = new Drive();
  readonly #api = new Api(this.#drive);
  #checker: EntitlementChecker = allowAll;
  #state: CoreState = 'idle';
  #started: Service[] = [];
  #actionFailures = 0;
  #denied = 0;

  constructor(options: CoreOptions) {
    if (typeof options?.name !== 'string' || options.name.length === 0) {
      throw new CoreError('InvalidInput', 'new Core: name must be a non-empty string', {
        field: 'name',
      });
    }
    const stopTimeout = options.stopTimeout ?? DEFAULT_STOP_TIMEOUT_MS;
    if (!Number.isFinite(stopTimeout) || stopTimeout <= 0) {
      throw new CoreError(
        'InvalidInput',
        `new Core: stopTimeout must be a positive number of ms, got ${stopTimeout}`,
        {
          field: 'stopTimeout',
        },
      );
    }
    this.name = options.name;
    this.#stopTimeout = stopTimeout;
    this.logger = options.logger ?? consoleLogger(options.name);
    this.events = new EventBus({ queueSize: options.queueSize, logger: this.logger });
    const actions = this.#actions;
    this.#scheduler = new Scheduler(
      this.name,
      (n) => this.#taskHandle(n),
      this.events,
      this.logger,
    );
    this.#host = {
      core: this,
      events: this.events,
      logger: this.logger,
      lookupAction: (name) => actions.get(name),
      checkEntitlement: (action, quantity, data) => this.#check(action, quantity, data),
      countFailure: () => {
        this.#actionFailures++;
      },
      countDenied: () => {
        this.#denied++;
      },
      matchActions: (glob) => actions.names(glob),
      remote: (host, action, input, options) =>
        this.#api.call(host, action, input, { signal: options.signal, timeout: options.timeout }),
    };
  }

  /**
   * `idle` until `start()`, then `starting`, `running`, `stopping`, `stopped` (or `failed`
   * when a service's startup failed).
   *
   * @example
   * if (core.state === 'running') await core.stop();
   */
  get state(): CoreState {
    return this.#state;
  }

  /**
   * With a handler: registers the action and returns its handle (throws CoreError `Duplicate`
   * for a taken name unless `replace`). Without: returns the handle for `exists/def/run`.
   *
   * @example
   * core.action('git.log', async ({ dir }) => gitLog(dir), {
   *   description: 'last commits',
   *   schema,
   *   output: z.array(z.object({ hash: z.string(), subject: z.string() })),
   * });
   * const r = await core.action('git.log').run({ dir: '/repo' });
   */
  action<I = unknown, O = unknown>(
    name: string,
    handler?: ActionHandler<I, O>,
    options: ActionOptions<I, O> = {},
  ): Action<I, O> {
    if (handler !== undefined) {
      if (typeof handler !== 'function') {
        throw new CoreError('InvalidInput', `core.action('${name}'): handler must be a function`, {
          action: name,
          field: 'handler',
        });
      }
      const entry: ActionEntry = {
        def: {
          name,
          description: options.description ?? '',
          schema: options.schema,
          output: options.output,
        },
        handler: handler as ActionHandler,
        validate: options.schema ? inputValidator(options.schema) : undefined,
        runs: 0,
        failures: 0,
        denied: 0,
      };
      this.#actions.set(name, entry, { replace: options.replace });
    }
    return new Action<I, O>(name, this.#host);
  }

  /**
   * Registered action names, optionally filtered by a dotted glob.
   *
   * @example
   * core.actions('process.*'); // ['process.run', 'process.start', ...]
   */
  actions(glob?: string): string[] {
    return this.#actions.names(glob);
  }

  /**
   * With a definition: registers the task (validated now, a `schedule` included; its actions
   * are looked up at run time, so they may come from services started later). Without: returns
   * the handle. A task with `schedule` (cron, seconds optional) runs by it while the core runs,
   * never overlapping itself unless `overlap: true`.
   *
   * @example
   * core.task({ name: 'sweep', schedule: '*\/5 * * * * *', steps: [{ action: 'repo.sweep' }] });
   * core.task('qa', { steps: [{ action: 'go.test' }, { if: 'previous.ok', do: { action: 'git.merge' } }] });
   * const r = await core.task('qa').run();
   */
  task(def: TaskDef & { name: string }, options?: TaskOptions): Task;
  task(name: string, def?: TaskDef, options?: TaskOptions): Task;
  task(
    nameOrDef: string | (TaskDef & { name: string }),
    defOrOptions?: TaskDef | TaskOptions,
    maybeOptions: TaskOptions = {},
  ): Task {
    // The seed's form, core.task({ name, schedule, steps }), and ours, core.task(name, def).
    const named = typeof nameOrDef === 'object' && nameOrDef !== null;
    const name = named ? nameOrDef.name : nameOrDef;
    let def: TaskDef | undefined;
    let options: TaskOptions;
    if (named) {
      const { name: _n, ...rest } = nameOrDef;
      def = rest;
      options = (defOrOptions as TaskOptions | undefined) ?? {};
    } else {
      def = defOrOptions as TaskDef | undefined;
      options = maybeOptions;
    }
    if (typeof name !== 'string' || name.length === 0) {
      throw new CoreError('InvalidInput', 'core.task: name must be a non-empty string', {
        field: 'name',
      });
    }
    if (def !== undefined) {
      validateTaskDef(name, def);
      this.#tasks.set(name, def, { replace: options.replace });
      this.#scheduler.set(name, def);
    }
    return this.#taskHandle(name);
  }

  #taskHandle(name: string): Task {
    return new Task(name, {
      lookupTask: (n) => this.#tasks.get(n),
      action: (n) => this.action(n),
    });
  }

  /**
   * Registered task names, optionally filtered by a dotted glob; with `{ detail: true }`, each
   * task's schedule, time zone, next run time (while the core runs), and run counts.
   *
   * @example
   * core.tasks('deploy.*');
   * core.tasks(undefined, { detail: true })[0]?.nextRun; // Date of the next scheduled run
   */
  tasks(glob?: string): string[];
  tasks(glob: string | undefined, options: { detail: true }): TaskInfo[];
  tasks(glob?: string, options?: { detail?: boolean }): string[] | TaskInfo[] {
    const names = this.#tasks.names(glob);
    if (options?.detail !== true) return names;
    return names.map((name) => ({
      name,
      description: this.#tasks.get(name)?.description ?? '',
      ...this.#scheduler.info(name),
    }));
  }

  /**
   * Replaces the entitlement checker (the default allows everything).
   *
   * @example
   * core.setEntitlementChecker((action) =>
   *   action.startsWith('process.') ? { allowed: false, reason: 'sandbox' } : { allowed: true, unlimited: true });
   */
  setEntitlementChecker(checker: EntitlementChecker): void {
    if (typeof checker !== 'function') {
      throw new CoreError(
        'InvalidInput',
        'core.setEntitlementChecker: checker must be a function',
        {
          field: 'checker',
        },
      );
    }
    this.#checker = checker;
  }

  /**
   * Asks the checker whether `action` may run `quantity` times. Does not record usage.
   *
   * @example
   * const e = core.entitled('ai.credits', 10);
   * if (e.allowed) { await work(); core.recordUsage('ai.credits', 10); }
   */
  entitled(
    action: string,
    quantity = 1,
    context: Readonly<Record<string, unknown>> = {},
  ): Entitlement {
    return this.#check(action, quantity, context);
  }

  /**
   * Adds to this core's usage tally for `action` (passed to the checker as `ctx.used`) and
   * publishes `entitlement.usage`, so an external meter can follow.
   *
   * @example
   * core.recordUsage('ai.credits', 10);
   */
  recordUsage(action: string, quantity = 1): void {
    if (!Number.isFinite(quantity) || quantity < 0) {
      throw new CoreError(
        'InvalidInput',
        `core.recordUsage('${action}'): quantity must be >= 0, got ${quantity}`,
        {
          action,
          field: 'quantity',
        },
      );
    }
    const used = (this.#usage.get(action) ?? 0) + quantity;
    this.#usage.set(action, used);
    this.events.publish('entitlement.usage', { core: this.name, action, quantity, used });
  }

  /**
   * This core's recorded usage for `action`.
   *
   * @example
   * core.usage('ai.credits'); // 10
   */
  usage(action: string): number {
    return this.#usage.get(action) ?? 0;
  }

  /**
   * Adds a service; only before `start()` (CoreError `Lifecycle` after), one per name.
   *
   * @example
   * core.use({ name: 'audit', order: 80, onStartup: (c) => void c.action('audit.log', log) });
   */
  use(service: Service): this {
    if (this.#state !== 'idle') {
      throw new CoreError(
        'Lifecycle',
        `core ${this.name}: use('${service?.name}') refused, the core is ${this.#state} (add services before start)`,
        { service: service?.name },
      );
    }
    if (
      typeof service !== 'object' ||
      service === null ||
      typeof service.name !== 'string' ||
      !service.name
    ) {
      throw new CoreError(
        'InvalidInput',
        `core ${this.name}: use: a service needs a non-empty name`,
        {
          field: 'name',
        },
      );
    }
    this.#services.set(service.name, service);
    return this;
  }

  /**
   * Service names in start order.
   *
   * @example
   * core.services(); // ['config', 'process', 'api']
   */
  services(): string[] {
    return startOrder(this.#services.list()).map((s) => s.name);
  }

  /**
   * Starts every service by `order`, low first. If one fails, the ones already started are
   * stopped in reverse and this rejects with CoreError `Lifecycle` naming the service.
   *
   * @example
   * await core.start();
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') {
      throw new CoreError(
        'Lifecycle',
        `core ${this.name}: start refused, the core is ${this.#state}`,
      );
    }
    this.#state = 'starting';
    this.#services.lock();
    try {
      this.#started = await startServices(
        { core: this, events: this.events, logger: this.logger },
        startOrder(this.#services.list()),
        this.#stopTimeout,
      );
    } catch (e) {
      this.#state = 'failed';
      throw e instanceof CoreError
        ? e
        : new CoreError('Lifecycle', `core ${this.name}: start failed`, { cause: toError(e) });
    }
    this.#state = 'running';
    this.#scheduler.start();
    this.events.publish('core.started', {
      core: this.name,
      services: this.#started.map((s) => s.name),
    });
  }

  /**
   * Stops the started services in reverse order, each within the stop timeout; a service
   * that overruns is reported (here and as `core.service.timeout`) and the stop goes on.
   * Never rejects. Stopping a core that is not running reports nothing to do.
   *
   * @example
   * const report = await core.stop();
   * if (!report.ok) console.warn('left behind:', report.timedOut, report.failed);
   */
  async stop(): Promise<StopReport> {
    if (this.#state !== 'running') return { ok: true, stopped: [], timedOut: [], failed: [] };
    this.#state = 'stopping';
    // No scheduled run may start (or go on) while the services it calls are stopping.
    this.#scheduler.stop();
    const report = await stopServices(
      { core: this, events: this.events, logger: this.logger },
      [...this.#started].reverse(),
      this.#stopTimeout,
    );
    this.#started = [];
    this.#state = 'stopped';
    this.events.publish('core.stopped', {
      core: this.name,
      ...report,
      failed: report.failed.map((f) => f.service),
    });
    return report;
  }

  /**
   * The phone book of remote endpoints (seed 001 §19.4).
   *
   * @example
   * core.drive().new({ name: 'a', transport: 'https://a:8790/', token });
   */
  drive(): Drive {
    return this.#drive;
  }

  /**
   * Remote streams and protocol handlers (seed 001 §19); `core.use(httpStreams())` brings
   * http and https.
   *
   * @example
   * core.api().registerProtocol('mcp', factory);
   * const s = core.api().stream('a');
   */
  api(): Api {
    return this.#api;
  }

  /**
   * Typed sugar over `process.run` / `process.start`.
   *
   * @example
   * const r = await core.process().runIn('/repo', 'git', 'status', '--short');
   */
  process(): ProcessApi {
    return new ProcessApi({ action: <I, O>(name: string) => this.action<I, O>(name) });
  }

  /**
   * @example
   * core.stats().actionFailures; // 2
   */
  stats(): CoreStats {
    return { actionFailures: this.#actionFailures, denied: this.#denied };
  }

  #check(action: string, quantity: number, data: Readonly<Record<string, unknown>>): Entitlement {
    const e = this.#decide(action, quantity, data);
    // Seed 001 §21.9: every denial is logged and published, whether Action.run or a caller
    // of core.entitled() asked.
    if (!e.allowed) {
      const reason = e.reason || 'denied by entitlement checker';
      this.logger.warn(`entitlement denied: ${action}`, { action, quantity, reason });
      this.events.publish('entitlement.denied', { core: this.name, action, quantity, reason });
    }
    return e;
  }

  #decide(action: string, quantity: number, data: Readonly<Record<string, unknown>>): Entitlement {
    try {
      return new Entitlement(
        this.#checker(action, quantity, { core: this.name, used: this.usage(action), data }),
      );
    } catch (e) {
      // Fail closed: a checker that cannot answer must not grant.
      const error = toError(e);
      this.logger.error(`entitlement checker threw for ${action}`, { action, error });
      return new Entitlement({
        allowed: false,
        reason: `entitlement checker failed: ${error.message}`,
      });
    }
  }
}
