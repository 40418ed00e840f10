/**
 * Services: the units a Core starts and stops. Order decides both directions (low starts
 * first, high stops first) so a service can rely on lower-ordered ones for its whole life.
 * Stopping is bounded: a service that does not finish its shutdown within the stop timeout
 * is reported and left behind, because one stuck service must not keep the others running.
 */
import type { Core } from './core.js';
import { CoreError, toError } from './errors.js';
import type { EventBus } from './events.js';
import type { CoreLogger } from './logger.js';

/**
 * @example
 * const audit: Service = {
 *   name: 'audit',
 *   order: 80,
 *   onStartup: (core) => void core.action('audit.tail', tail),
 *   onShutdown: async (_core, { signal }) => flush({ signal }),
 * };
 */
export interface Service {
  readonly name: string;
  /** Start rank: low starts first and stops last. Default 100. */
  readonly order?: number;
  /** Register actions, open resources. A throw or rejection fails `core.start()`. */
  onStartup?(core: Core): void | Promise<void>;
  /** Release resources. `signal` aborts when the stop timeout passes: stop waiting then. */
  onShutdown?(core: Core, ctx: { signal: AbortSignal }): void | Promise<void>;
}

export const DEFAULT_SERVICE_ORDER = 100;
export const DEFAULT_STOP_TIMEOUT_MS = 5000;

/** What `core.stop()` reports. `ok` is false when any service failed or timed out. */
export interface StopReport {
  readonly ok: boolean;
  /** Services whose `onShutdown` finished, in stop order. */
  readonly stopped: readonly string[];
  /** Services still stopping when the timeout passed. */
  readonly timedOut: readonly string[];
  readonly failed: readonly { readonly service: string; readonly error: Error }[];
}

/** @internal */
export interface LifecycleHost {
  readonly core: Core;
  readonly events: EventBus;
  readonly logger: CoreLogger;
}

/**
 * Sorts by order, ties in registration order (Array.prototype.sort is stable).
 *
 * @example
 * startOrder([{ name: 'b', order: 2 }, { name: 'a', order: 1 }]).map((s) => s.name); // ['a', 'b']
 */
export function startOrder(services: readonly Service[]): Service[] {
  return [...services].sort((a, b) => orderOf(a) - orderOf(b));
}

/**
 * Starts in order; on the first failure stops the already-started ones in reverse and
 * rejects with CoreError `Lifecycle` naming the service. Resolves with the started names.
 *
 * @example
 * const started = await startServices(host, startOrder(list), 5000);
 */
export async function startServices(
  host: LifecycleHost,
  ordered: readonly Service[],
  stopTimeoutMs: number,
): Promise<Service[]> {
  const started: Service[] = [];
  for (const service of ordered) {
    try {
      await service.onStartup?.(host.core);
      started.push(service);
    } catch (e) {
      const error = toError(e);
      host.logger.error(`service ${service.name} failed to start`, {
        service: service.name,
        error,
      });
      host.events.publish('core.service.failed', {
        core: host.core.name,
        service: service.name,
        phase: 'start',
        error: error.message,
      });
      const rollback = await stopServices(host, started.reverse(), stopTimeoutMs);
      const undone =
        rollback.stopped.length > 0 ? `; stopped again: ${rollback.stopped.join(', ')}` : '';
      const stuck = rollback.ok ? '' : `; rollback incomplete (${describeProblems(rollback)})`;
      throw new CoreError(
        'Lifecycle',
        `core ${host.core.name}: start failed in service ${service.name}: ${error.message}${undone}${stuck}`,
        { service: service.name, cause: error },
      );
    }
  }
  return started;
}

/**
 * Stops in the given order, each bounded by `timeoutMs`; never rejects.
 *
 * @example
 * const report = await stopServices(host, started.reverse(), 5000);
 */
export async function stopServices(
  host: LifecycleHost,
  ordered: readonly Service[],
  timeoutMs: number,
): Promise<StopReport> {
  const stopped: string[] = [];
  const timedOut: string[] = [];
  const failed: { service: string; error: Error }[] = [];
  for (const service of ordered) {
    const outcome = await stopOne(host.core, service, timeoutMs);
    if (outcome === 'stopped') {
      stopped.push(service.name);
    } else if (outcome === 'timeout') {
      timedOut.push(service.name);
      host.logger.warn(`service ${service.name} did not stop within ${timeoutMs} ms`, {
        service: service.name,
        timeoutMs,
      });
      host.events.publish('core.service.timeout', {
        core: host.core.name,
        service: service.name,
        timeoutMs,
      });
    } else {
      failed.push({ service: service.name, error: outcome });
      host.logger.error(`service ${service.name} failed to stop`, {
        service: service.name,
        error: outcome,
      });
      host.events.publish('core.service.failed', {
        core: host.core.name,
        service: service.name,
        phase: 'stop',
        error: outcome.message,
      });
    }
  }
  return { ok: timedOut.length === 0 && failed.length === 0, stopped, timedOut, failed };
}

async function stopOne(
  core: Core,
  service: Service,
  timeoutMs: number,
): Promise<'stopped' | 'timeout' | Error> {
  if (!service.onShutdown) return 'stopped';
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const work = (async () => {
    await service.onShutdown?.(core, { signal: controller.signal });
    return 'stopped' as const;
  })().catch(toError);
  try {
    const outcome = await Promise.race([work, timeout]);
    if (outcome === 'timeout')
      controller.abort(
        new CoreError('Timeout', `service ${service.name}: stop timed out after ${timeoutMs} ms`, {
          service: service.name,
        }),
      );
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

function orderOf(s: Service): number {
  return typeof s.order === 'number' && Number.isFinite(s.order) ? s.order : DEFAULT_SERVICE_ORDER;
}

function describeProblems(report: StopReport): string {
  return [
    ...report.timedOut.map((s) => `${s} timed out`),
    ...report.failed.map((f) => `${f.service} failed`),
  ].join(', ');
}
