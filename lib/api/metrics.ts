/**
 * Prometheus metrics for a supervisor, built from what it already publishes: the Core's
 * event bus (`process.started` / `exited` / `spawn-failed`, `daemon.restarting` / `gave-up`,
 * `security.denied`, `audit.failed`) and the bus's own drop counter, read at scrape time. No
 * counter is threaded through the service, and each instance has its own prom-client
 * registry (never the global default), so two cores in one process do not collide.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EventBus } from '../core/events.js';

/** The topics the metrics read; `process.output` is not one (it would cost line splitting). */
export const METRIC_TOPICS = [
  'process.started',
  'process.exited',
  'process.spawn-failed',
  'daemon.restarting',
  'daemon.gave-up',
  'security.denied',
  'audit.failed',
] as const;

// Enough for a burst of exits between two turns of the loop; what still does not fit is
// counted in core_process_event_bus_dropped_total, so a gap is visible, not silent.
const QUEUE_SIZE = 1 << 16;

// Spawning is a clone + exec: tens of microseconds to tens of milliseconds on a loaded box.
const SPAWN_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
// Children live from milliseconds (a hook) to days (a daemon).
const RUN_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600, 86400];

type Payload = Readonly<Record<string, unknown>>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

/**
 * One registry of supervisor metrics, fed with events.
 *
 * @example
 * const metrics = new ProcessMetrics();
 * const detach = metrics.attach(core.events);
 * const { contentType, body } = await metrics.exposition(); // text format 0.0.4
 */
export class ProcessMetrics {
  readonly registry = new Registry();
  #running = 0;
  #bus: EventBus | null = null;

  readonly #spawns: Counter;
  readonly #spawnFailures: Counter<'kind'>;
  readonly #exits: Counter<'code' | 'signal'>;
  readonly #runningGauge: Gauge;
  readonly #restarts: Counter<'daemon'>;
  readonly #giveUps: Counter<'daemon'>;
  readonly #spawnSeconds: Histogram;
  readonly #runSeconds: Histogram;
  readonly #auditFailures: Counter<'subscriber'>;
  readonly #denials: Counter<'action'>;

  constructor() {
    const registers = [this.registry];
    const metrics = this;
    this.#spawns = new Counter({
      name: 'core_process_spawns_total',
      help: 'Children started (the spawn returned a pid).',
      registers,
    });
    this.#spawnFailures = new Counter({
      name: 'core_process_spawn_failures_total',
      help: 'Spawns that failed, by ProcessError kind (NotFound, PermissionDenied, SpawnFailed, ...).',
      labelNames: ['kind'],
      registers,
    });
    this.#exits = new Counter({
      name: 'core_process_exits_total',
      help: 'Children that exited, by exit code (empty when killed) and signal (empty when not).',
      labelNames: ['code', 'signal'],
      registers,
    });
    this.#runningGauge = new Gauge({
      name: 'core_process_running',
      help: 'Children running now.',
      registers,
    });
    this.#restarts = new Counter({
      name: 'core_process_daemon_restarts_total',
      help: 'Restarts a supervisor began (daemon.restarting), per daemon.',
      labelNames: ['daemon'],
      registers,
    });
    this.#giveUps = new Counter({
      name: 'core_process_daemon_give_ups_total',
      help: 'Times a supervisor gave up on its daemon (too many restarts in its window).',
      labelNames: ['daemon'],
      registers,
    });
    this.#spawnSeconds = new Histogram({
      name: 'core_process_spawn_duration_seconds',
      help: 'Time the spawn call took, from request to a running child.',
      buckets: SPAWN_BUCKETS,
      registers,
    });
    this.#runSeconds = new Histogram({
      name: 'core_process_run_duration_seconds',
      help: 'How long children ran, from spawn to exit.',
      buckets: RUN_BUCKETS,
      registers,
    });
    this.#auditFailures = new Counter({
      name: 'core_process_audit_write_failures_total',
      help: 'Audit records a subscriber failed to take, per subscriber.',
      labelNames: ['subscriber'],
      registers,
    });
    this.#denials = new Counter({
      name: 'core_process_policy_denials_total',
      help: 'Requests refused by the policy or the entitlement checker, per action.',
      labelNames: ['action'],
      registers,
    });
    new Counter({
      name: 'core_process_event_bus_dropped_total',
      help: 'Events a full subscriber queue dropped on the core bus (these metrics included).',
      registers,
      // Read from the bus's own counter at scrape time, not counted twice.
      collect() {
        this.reset();
        this.inc(metrics.#bus?.stats().dropped ?? 0);
      },
    });
  }

  /**
   * Counts one event; unknown topics are ignored. The CLI calls this directly, a Core's bus
   * through `attach`.
   *
   * @example
   * metrics.observe('process.exited', { exitCode: 0, signal: null, durationMs: 1200 });
   */
  observe(topic: string, payload: unknown): void {
    const p: Payload = typeof payload === 'object' && payload !== null ? (payload as Payload) : {};
    switch (topic) {
      case 'process.started': {
        this.#spawns.inc();
        this.#runningGauge.set(++this.#running);
        const ms = num(p.spawnMs);
        if (ms !== undefined) this.#spawnSeconds.observe(ms / 1000);
        return;
      }
      case 'process.spawn-failed':
        this.#spawnFailures.inc({ kind: str(p.kind) || 'SpawnFailed' });
        return;
      case 'process.exited': {
        // A start that a full queue dropped must not drive the gauge below zero.
        this.#running = Math.max(0, this.#running - 1);
        this.#runningGauge.set(this.#running);
        const code = num(p.exitCode);
        this.#exits.inc({ code: code === undefined ? '' : String(code), signal: str(p.signal) });
        const ms = num(p.durationMs);
        if (ms !== undefined) this.#runSeconds.observe(ms / 1000);
        return;
      }
      case 'daemon.restarting':
        this.#restarts.inc({ daemon: str(p.name) });
        return;
      case 'daemon.gave-up':
        this.#giveUps.inc({ daemon: str(p.name) });
        return;
      case 'security.denied':
        this.#denials.inc({ action: str(p.action) });
        return;
      case 'audit.failed':
        this.#auditFailures.inc({ subscriber: str(p.subscriber) });
        return;
    }
  }

  /**
   * Subscribes to a core's bus (only the topics in METRIC_TOPICS) and reports its drops.
   * Returns the unsubscribe.
   *
   * @example
   * const detach = metrics.attach(core.events);
   * // ... later
   * detach();
   */
  attach(bus: EventBus): () => void {
    this.#bus = bus;
    return bus.subscribe(`{${METRIC_TOPICS.join(',')}}`, (e) => this.observe(e.topic, e.payload), {
      name: 'metrics',
      queueSize: QUEUE_SIZE,
    });
  }

  /**
   * The metrics in the Prometheus text exposition format.
   *
   * @example
   * reply.type(contentType).send(body);
   */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
