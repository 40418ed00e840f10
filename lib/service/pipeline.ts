/**
 * The process.pipeline action: runs a pipeline of process specs through the service's own
 * spawner, so every spec passes the policy, is managed (listed, output captured) and audited
 * like any other process; cancelling the action kills the running specs' groups.
 */
import { z } from 'zod';
import type { ActionContext } from '../core/action.js';
import { NEVER_ABORTED } from '../core/action.js';
import type { Core } from '../core/core.js';
import { outputSchema } from '../core/output-schema.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import { runAll, runParallel, runSequential } from '../runner/run.js';
import type { PipelineResult, PipelineSpec, SpecResult } from '../runner/spec.js';
import { nextId } from './ids.js';
import { exitStatusSchema } from './schemas.js';

const specSchema = z.looseObject({
  name: z.string().min(1),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  after: z.array(z.string()).optional(),
  allowFailure: z.boolean().optional(),
  timeout: z.number().nonnegative().optional(),
});

/**
 * Input of `process.pipeline`.
 *
 * @example
 * pipelineInputSchema.parse({ specs: [{ name: 'build', command: 'make' }], mode: 'all' });
 */
export const pipelineInputSchema = z.object({
  specs: z.array(specSchema).min(1),
  /** 'all' (default): dependency order with `after`; 'sequential'; 'parallel'. */
  mode: z.enum(['all', 'sequential', 'parallel']).optional(),
  concurrency: z.int().positive().optional(),
});
export type PipelineInput = z.infer<typeof pipelineInputSchema>;

const RUNNERS = { all: runAll, sequential: runSequential, parallel: runParallel } as const;

export type PipelineSpecState = 'pending' | 'running' | 'passed' | 'failed' | 'skipped';

/** A pipeline run as `process.pipelines` lists it (the panel draws these). */
export interface PipelineRun {
  id: string;
  state: 'running' | 'done';
  startedAt: string;
  specs: Array<{
    name: string;
    command: string;
    args: string[];
    after: string[];
    status: PipelineSpecState;
    durationMs?: number;
    error?: string;
  }>;
  result?: PipelineResult;
}

const specResultSchema = outputSchema<SpecResult>()(
  z.object({
    name: z.string(),
    status: z.enum(['passed', 'failed', 'skipped']),
    exitStatus: exitStatusSchema.nullable().describe('null when the spec never ran'),
    durationMs: z.number().nonnegative(),
    output: z.string().describe('stdout and stderr interleaved, the newest maxOutput bytes'),
    error: z.string().optional().describe('why it failed beyond its exit status, or was skipped'),
  }),
);
const pipelineResultSchema = outputSchema<PipelineResult>()(
  z.object({
    specs: z.array(specResultSchema),
    passed: z.int().nonnegative(),
    failed: z.int().nonnegative(),
    skipped: z.int().nonnegative(),
    durationMs: z.number().nonnegative(),
    success: z.boolean(),
    cancelled: z.boolean(),
  }),
);
const pipelineValueSchema = outputSchema<PipelineResult & { id: string }>()(
  pipelineResultSchema.extend({ id: z.string() }),
);
const pipelineRunSchema = outputSchema<PipelineRun>()(
  z.object({
    id: z.string(),
    state: z.enum(['running', 'done']),
    startedAt: z.string().describe('ISO 8601'),
    specs: z.array(
      z.object({
        name: z.string(),
        command: z.string(),
        args: z.array(z.string()),
        after: z.array(z.string()),
        status: z.enum(['pending', 'running', 'passed', 'failed', 'skipped']),
        durationMs: z.number().nonnegative().optional(),
        error: z.string().optional(),
      }),
    ),
    result: pipelineResultSchema.optional().describe('once done'),
  }),
);

/** Runs kept for `process.pipelines`, newest last. */
const KEEP_RUNS = 50;

/**
 * Registers process.pipeline; `start` is the service's policy-checked, managed spawner.
 *
 * @example
 * registerPipelineAction(core, (options, ctx) => launch(core, options, ctx).handle);
 * await core.action('process.pipeline').run({ specs: [{ name: 'a', command: 'true' }] });
 */
export function registerPipelineAction(
  core: Core,
  start: (options: SpawnOptions, ctx: ActionContext) => ProcessHandle,
): void {
  const runs: PipelineRun[] = [];
  core.action(
    'process.pipeline',
    async (input: PipelineInput, ctx): Promise<PipelineResult & { id: string }> => {
      const id = nextId('pipeline');
      const run: PipelineRun = {
        id,
        state: 'running',
        startedAt: new Date().toISOString(),
        specs: input.specs.map((s) => ({
          name: s.name,
          command: s.command,
          args: s.args ?? [],
          after: input.mode === undefined || input.mode === 'all' ? (s.after ?? []) : [],
          status: 'pending' as PipelineSpecState,
        })),
      };
      const byName = new Map(run.specs.map((s) => [s.name, s]));
      const progress = (name: string, status: PipelineSpecState, r?: SpecResult) => {
        const spec = byName.get(name);
        if (spec === undefined) return;
        spec.status = status;
        if (r !== undefined) spec.durationMs = r.durationMs;
        if (r?.error !== undefined) spec.error = r.error;
        core.events.publish('pipeline.progress', { id, ...spec });
      };
      runs.push(run);
      if (runs.length > KEEP_RUNS) runs.shift();
      core.events.publish('pipeline.started', { id, specs: run.specs });
      try {
        const result = await RUNNERS[input.mode ?? 'all'](input.specs as PipelineSpec[], {
          ...(input.concurrency === undefined ? {} : { concurrency: input.concurrency }),
          ...(ctx.signal === NEVER_ABORTED ? {} : { signal: ctx.signal }),
          start: (options) => start(options, ctx),
          onProgress: (e) =>
            e.type === 'started'
              ? progress(e.name, 'running')
              : progress(e.result.name, e.result.status, e.result),
        });
        run.result = result;
        return { id, ...result };
      } finally {
        run.state = 'done';
        core.events.publish('pipeline.finished', { id, result: run.result ?? null });
      }
    },
    {
      description:
        'Run process specs with `after` dependencies (or in sequence, or in parallel); the value is every spec’s result',
      schema: pipelineInputSchema,
      output: pipelineValueSchema,
    },
  );

  core.action('process.pipelines', (): PipelineRun[] => structuredClone(runs), {
    description: 'Recent pipeline runs (the last 50) with each spec’s state',
    output: z.array(pipelineRunSchema),
  });
}
