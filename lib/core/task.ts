/**
 * Task: a named composition of actions. Steps run in order and the task stops at the first
 * unhandled failure; a parallel group runs its members concurrently and waits for all; an
 * if-step branches on the previous step's Result, and is the only way a failure is handled.
 * Every step runs through `Action.run`, so registration, entitlements and schemas apply to
 * each one exactly as to a direct call.
 */

import { describe } from '../errors.js';
import type { Result } from '../result.js';
import type { Action, ActionRunOptions } from './action.js';
import { CoreError, type CoreErrorKind, toError } from './errors.js';
import { fail, ok } from './result.js';
import { type ScheduleSpec, validateSchedule } from './schedule.js';

/**
 * Runs one action. Its input is, in order of precedence: the previous step's value when
 * `input: 'previous'` (undefined if that step failed), `with` when given, else the task's input.
 *
 * @example
 * { action: 'go.build', with: { dir: '/repo' } }
 * { action: 'agentic.verify', input: 'previous' }
 */
export interface ActionStep {
  action: string;
  with?: unknown;
  input?: 'previous';
}

/**
 * Runs every member concurrently and waits for all of them, failed ones included. The group
 * succeeds when all members do, with the members' values as an array in declaration order;
 * otherwise it fails with the first failing member's error. Every member sees the same
 * `previous`: the step before the group.
 *
 * @example
 * { parallel: [{ action: 'repo.sweep', with: { repo: 'io' } }, { action: 'repo.sweep', with: { repo: 'log' } }] }
 */
export interface ParallelStep {
  parallel: TaskStep[];
}

/** `previous.ok` / `previous.failed`, or a predicate over the previous step's Result. */
export type StepCondition =
  | 'previous.ok'
  | 'previous.failed'
  | ((previous: Result<unknown>) => boolean);

/**
 * Branches on the previous step's Result (the task's input, as a success, when it is the first
 * step): `then` runs when the condition holds, `else` otherwise, as the issue and the platform
 * spec name them. (`then` holds a step object, never a function, so a step is not a
 * thenable; Biome's noThenProperty is off for the task code and its tests.) A failed step followed
 * by an if-step does not stop the task: the branch that runs handles it, and its Result
 * becomes `previous`. When no branch runs (`else` absent), the previous Result stands, so a
 * failure not handled by any branch still stops the task.
 *
 * @example
 * { if: 'previous.ok', then: { action: 'git.merge' }, else: { action: 'review.flag' } }
 */
export interface IfStep {
  if: StepCondition;
  then: TaskStep;
  else?: TaskStep;
}

export type TaskStep = ActionStep | ParallelStep | IfStep;

/**
 * Exactly one of `steps` (a sequence) or `parallel` (one parallel group, the whole task).
 *
 * @example
 * core.task('deploy', { description: 'build and ship', steps: [{ action: 'go.build' }, { action: 'docker.push' }] });
 */
export interface TaskDef extends ScheduleSpec {
  description?: string;
  steps?: TaskStep[];
  parallel?: TaskStep[];
}

/** One action call in a task run. `path` is the step index, `2.1` for a group's second member, `3.then` / `3.else` for a branch. */
export interface TaskStepRecord {
  readonly path: string;
  readonly action: string;
  readonly result: Result<unknown>;
}

/** A successful task run: the last step's value and every step's Result. */
export interface TaskRun {
  readonly value: unknown;
  readonly steps: readonly TaskStepRecord[];
}

export interface TaskRunOptions {
  signal?: AbortSignal;
  /** Passed to every action's entitlement check and handler. */
  context?: Readonly<Record<string, unknown>>;
}

/** @internal What a Task needs from its Core. */
export interface TaskHost {
  lookupTask(name: string): TaskDef | undefined;
  action(name: string): Action;
}

interface StepOutcome {
  readonly result: Result<unknown>;
  /** The record that decided the outcome: named in a failed task's message. */
  readonly path: string;
}

const SKIPPED = Symbol('skipped');

/**
 * @example
 * const r = await core.task('qa-gate').run({ dir: '/repo' });
 * if (r.ok) console.log(r.value.steps.map((s) => `${s.path} ${s.action} ${s.result.ok}`));
 * else console.error(r.error.message, r.error.steps);
 */
export class Task {
  /** @internal Built by `core.task(name)`. */
  constructor(
    readonly name: string,
    readonly host: TaskHost,
  ) {}

  /**
   * @example
   * core.task('deploy').exists();
   */
  exists(): boolean {
    return this.host.lookupTask(this.name) !== undefined;
  }

  /**
   * @example
   * core.task('deploy').def()?.description;
   */
  def(): TaskDef | undefined {
    return this.host.lookupTask(this.name);
  }

  /**
   * Runs the task. Never rejects. A failure is a CoreError whose `kind` is the failing step's
   * (`HandlerFailed` for a plain Error), whose message names the step, and whose `steps`
   * holds every step that ran.
   *
   * @example
   * const r = await core.task('build').run({ target: 'production' }, { signal });
   */
  async run(input?: unknown, options: TaskRunOptions = {}): Promise<Result<TaskRun, CoreError>> {
    const def = this.host.lookupTask(this.name);
    if (!def) {
      return fail(
        new CoreError('NotRegistered', `task ${this.name}: not registered`, { task: this.name }),
      );
    }
    const records: TaskStepRecord[] = [];
    const steps: TaskStep[] = def.steps ?? [{ parallel: def.parallel ?? [] }];
    const runOptions: ActionRunOptions = { signal: options.signal, context: options.context };
    let previous: Result<unknown> = ok(input);
    let failedAt = '';

    for (let i = 0; i < steps.length; i++) {
      if (options.signal?.aborted) {
        return fail(
          new CoreError('Aborted', `task ${this.name}: aborted before step ${i}`, {
            task: this.name,
            steps: records,
            cause: options.signal.reason,
          }),
        );
      }
      const outcome = await this.#step(
        steps[i] as TaskStep,
        String(i),
        previous,
        input,
        records,
        runOptions,
      );
      if (outcome !== SKIPPED) {
        previous = outcome.result;
        if (!outcome.result.ok) failedAt = outcome.path;
      }
      const next = steps[i + 1];
      if (!previous.ok && !(next !== undefined && isIf(next))) {
        const error = previous.error;
        const kind: CoreErrorKind = error instanceof CoreError ? error.kind : 'HandlerFailed';
        return fail(
          new CoreError(kind, `task ${this.name}: step ${failedAt} failed: ${error.message}`, {
            task: this.name,
            steps: records,
            cause: error,
          }),
        );
      }
    }
    return ok({ value: previous.ok ? previous.value : undefined, steps: records });
  }

  async #step(
    step: TaskStep,
    path: string,
    previous: Result<unknown>,
    taskInput: unknown,
    records: TaskStepRecord[],
    options: ActionRunOptions,
  ): Promise<StepOutcome | typeof SKIPPED> {
    if (isIf(step)) {
      let branch: 'then' | 'else';
      try {
        branch = holds(step.if, previous) ? 'then' : 'else';
      } catch (e) {
        // A throwing predicate is a failed step, not a rejected run.
        const result = fail(toError(e));
        records.push({ path: `${path}.if`, action: '(if)', result });
        return { result, path: `${path}.if` };
      }
      const next = step[branch];
      if (next === undefined) return SKIPPED;
      return this.#step(next, `${path}.${branch}`, previous, taskInput, records, options);
    }
    if (isParallel(step)) {
      const outcomes = await Promise.all(
        step.parallel.map((member, j) =>
          this.#step(member, `${path}.${j}`, previous, taskInput, records, options),
        ),
      );
      const ran = outcomes.filter((o): o is StepOutcome => o !== SKIPPED);
      const failed = ran.find((o) => !o.result.ok);
      if (failed) return failed;
      return { result: ok(ran.map((o) => (o.result.ok ? o.result.value : undefined))), path };
    }
    const input =
      step.input === 'previous'
        ? previous.ok
          ? previous.value
          : undefined
        : 'with' in step
          ? step.with
          : taskInput;
    const result = await this.host.action(step.action).run(input, options);
    records.push({ path, action: step.action, result });
    return { result, path };
  }
}

/**
 * Refuses a malformed definition at registration, naming the field, so a typo fails at
 * startup instead of halfway through a deploy.
 *
 * @example
 * validateTaskDef('deploy', { steps: [{ action: '' }] }); // throws CoreError InvalidInput at steps.0.action
 */
export function validateTaskDef(name: string, def: TaskDef): void {
  const bad = (field: string, why: string): never => {
    throw new CoreError('InvalidInput', `task ${name}: ${field} ${why}`, { task: name, field });
  };
  if (typeof def !== 'object' || def === null) bad('(root)', 'must be an object');
  validateSchedule(name, def);
  const hasSteps = def.steps !== undefined;
  const hasParallel = def.parallel !== undefined;
  if (hasSteps === hasParallel) bad('(root)', 'needs exactly one of steps or parallel');
  const list = hasSteps ? def.steps : def.parallel;
  const field = hasSteps ? 'steps' : 'parallel';
  if (!Array.isArray(list) || list.length === 0) bad(field, 'must be a non-empty array');
  for (const [i, s] of (list as TaskStep[]).entries()) validateStep(s, `${field}.${i}`, bad);
}

function validateStep(
  step: TaskStep,
  field: string,
  bad: (field: string, why: string) => never,
): void {
  if (typeof step !== 'object' || step === null) bad(field, 'must be a step object');
  if (isIf(step)) {
    const cond = step.if;
    if (typeof cond !== 'function' && cond !== 'previous.ok' && cond !== 'previous.failed') {
      bad(
        `${field}.if`,
        `must be 'previous.ok', 'previous.failed' or a function, got ${describe(cond)}`,
      );
    }
    if (step.then === undefined) bad(`${field}.then`, 'is required');
    validateStep(step.then, `${field}.then`, bad);
    if (step.else !== undefined) validateStep(step.else, `${field}.else`, bad);
    return;
  }
  if (isParallel(step)) {
    if (!Array.isArray(step.parallel) || step.parallel.length === 0)
      bad(`${field}.parallel`, 'must be a non-empty array');
    for (const [j, s] of step.parallel.entries()) validateStep(s, `${field}.parallel.${j}`, bad);
    return;
  }
  if (typeof step.action !== 'string' || step.action.length === 0)
    bad(`${field}.action`, 'must be a non-empty string');
  if (step.input !== undefined && step.input !== 'previous') {
    bad(`${field}.input`, `must be 'previous', got ${describe(step.input)}`);
  }
  if (step.input === 'previous' && 'with' in step)
    bad(field, "takes either with or input: 'previous', not both");
}

function isIf(step: TaskStep): step is IfStep {
  return 'if' in step;
}

function isParallel(step: TaskStep): step is ParallelStep {
  return 'parallel' in step;
}

function holds(cond: StepCondition, previous: Result<unknown>): boolean {
  if (cond === 'previous.ok') return previous.ok;
  if (cond === 'previous.failed') return !previous.ok;
  return cond(previous);
}
