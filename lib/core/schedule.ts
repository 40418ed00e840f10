/**
 * Task schedules (seed 001 §18.7 "Scheduled — run at a specific time or interval"): a task
 * with `schedule` runs by cron while its core runs. Cron parsing and timing are croner's (no
 * dependencies, seconds and IANA time zones, DST handled); this file owns what the seed adds:
 * an invalid expression refused when the task is defined, no overlapping runs unless asked,
 * every run through `Task.run` (so entitlements and schemas apply), and all of it stopped with
 * the core, in-flight runs aborted.
 */
import { Cron } from 'croner';
import { CoreError } from './errors.js';
import type { EventBus } from './events.js';
import type { CoreLogger } from './logger.js';
import type { Task } from './task.js';

/** The scheduling fields of a TaskDef. */
export interface ScheduleSpec {
  /** Cron: 5 fields, or 6 with seconds first (`*\/5 * * * * *`). */
  schedule?: string;
  /** IANA zone the expression is read in (`Europe/Stockholm`); default the host's. */
  timezone?: string;
  /** Start a run while the previous one is still going. Default false: that tick is skipped. */
  overlap?: boolean;
}

/** What `core.tasks(glob, { detail: true })` says of a task. */
export interface TaskInfo {
  readonly name: string;
  readonly description: string;
  readonly schedule: string | null;
  readonly timezone: string | null;
  /** When the schedule fires next; null without a schedule or while the core is not running. */
  readonly nextRun: Date | null;
  /** A scheduled run is in progress. */
  readonly running: boolean;
  /** Scheduled runs started so far, and ticks skipped because a run was still going. */
  readonly runs: number;
  readonly skipped: number;
}

/**
 * Parses the expression (and zone) now, so a typo fails at definition, naming it.
 *
 * @example
 * validateSchedule('nightly', { schedule: '0 2 * * *', timezone: 'Europe/London' });
 */
export function validateSchedule(task: string, spec: ScheduleSpec): void {
  if (spec.schedule === undefined) {
    if (spec.timezone !== undefined || spec.overlap !== undefined) {
      throw new CoreError('InvalidInput', `task ${task}: timezone and overlap need a schedule`, {
        task,
        field: 'schedule',
      });
    }
    return;
  }
  if (typeof spec.schedule !== 'string' || spec.schedule.trim() === '') {
    throw new CoreError('InvalidInput', `task ${task}: schedule must be a cron expression`, {
      task,
      field: 'schedule',
    });
  }
  const field = spec.timezone === undefined ? 'schedule' : 'timezone';
  try {
    const probe = cron(spec, { paused: true });
    probe.nextRun(); // a bad zone shows only when a date is converted
    probe.stop();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new CoreError(
      'InvalidInput',
      `task ${task}: invalid schedule ${JSON.stringify(spec.schedule).slice(0, 100)}${
        spec.timezone === undefined ? '' : ` in ${JSON.stringify(spec.timezone).slice(0, 60)}`
      }: ${why}`,
      { task, field, cause: e },
    );
  }
}

function cron(
  spec: ScheduleSpec,
  options: { paused: boolean; onSkip?: () => void },
  fn?: () => Promise<void>,
): Cron {
  const onSkip = options.onSkip ?? (() => {});
  const opts = {
    paused: options.paused,
    mode: '5-or-6-parts' as const,
    // croner awaits an async callback when protect is on: a tick meanwhile is skipped (and
    // counted through the callback).
    protect: spec.overlap === true ? false : () => onSkip(),
    // A schedule must not keep a process alive on its own: the core's owner decides that.
    unref: true,
    ...(spec.timezone === undefined ? {} : { timezone: spec.timezone }),
  };
  return fn === undefined
    ? new Cron(spec.schedule as string, opts)
    : new Cron(spec.schedule as string, opts, fn);
}

interface Job {
  readonly spec: ScheduleSpec;
  cron: Cron | null;
  inFlight: number;
  runs: number;
  skipped: number;
}

/** @internal The core's scheduled tasks: armed while the core runs. */
export class Scheduler {
  readonly #jobs = new Map<string, Job>();
  readonly #aborts = new Set<AbortController>();
  #armed = false;

  constructor(
    private readonly core: string,
    private readonly task: (name: string) => Task,
    private readonly events: EventBus,
    private readonly logger: CoreLogger,
  ) {}

  /** Registers (or replaces, or with no schedule removes) the task's schedule. */
  set(name: string, spec: ScheduleSpec): void {
    this.#jobs.get(name)?.cron?.stop();
    this.#jobs.delete(name);
    if (spec.schedule === undefined) return;
    const job: Job = { spec, cron: null, inFlight: 0, runs: 0, skipped: 0 };
    this.#jobs.set(name, job);
    if (this.#armed) this.#arm(name, job);
  }

  /** Starts every schedule (core start). */
  start(): void {
    this.#armed = true;
    for (const [name, job] of this.#jobs) this.#arm(name, job);
  }

  /** Stops every schedule and aborts the runs in flight (core stop). */
  stop(): void {
    this.#armed = false;
    for (const job of this.#jobs.values()) {
      job.cron?.stop();
      job.cron = null;
    }
    for (const a of this.#aborts) a.abort(new Error(`core ${this.core} stopped`));
    this.#aborts.clear();
  }

  info(name: string): Omit<TaskInfo, 'name' | 'description'> {
    const job = this.#jobs.get(name);
    return {
      schedule: job?.spec.schedule ?? null,
      timezone: job?.spec.timezone ?? null,
      nextRun: job?.cron?.nextRun() ?? null,
      running: (job?.inFlight ?? 0) > 0,
      runs: job?.runs ?? 0,
      skipped: job?.skipped ?? 0,
    };
  }

  #arm(name: string, job: Job): void {
    const onSkip = () => {
      job.skipped++;
      this.events.publish('task.skipped', { core: this.core, task: name, reason: 'still running' });
    };
    job.cron = cron(job.spec, { paused: false, onSkip }, () => this.#fire(name, job));
  }

  async #fire(name: string, job: Job): Promise<void> {
    job.runs++;
    job.inFlight++;
    const abort = new AbortController();
    this.#aborts.add(abort);
    const at = new Date();
    this.events.publish('task.started', { core: this.core, task: name, at: at.toISOString() });
    try {
      const r = await this.task(name).run(undefined, { signal: abort.signal });
      this.events.publish('task.finished', {
        core: this.core,
        task: name,
        at: at.toISOString(),
        ok: r.ok,
        ...(r.ok ? {} : { kind: r.error.kind, error: r.error.message }),
      });
      if (!r.ok && r.error.kind !== 'Aborted') {
        this.logger.warn(`scheduled task ${name} failed`, { task: name, kind: r.error.kind });
      }
    } finally {
      job.inFlight--;
      this.#aborts.delete(abort);
    }
  }
}
