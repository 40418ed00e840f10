/**
 * The process.pipeline action: runs a pipeline of process specs through the service's own
 * spawner, so every spec passes the policy, is managed (listed, output captured) and audited
 * like any other process; cancelling the action kills the running specs' groups.
 */
import { z } from 'zod';
import type { ActionContext } from '../core/action.js';
import { NEVER_ABORTED } from '../core/action.js';
import type { Core } from '../core/core.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import { runAll, runParallel, runSequential } from '../runner/run.js';
import type { PipelineResult, PipelineSpec } from '../runner/spec.js';

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
  core.action(
    'process.pipeline',
    (input: PipelineInput, ctx): Promise<PipelineResult> =>
      RUNNERS[input.mode ?? 'all'](input.specs as PipelineSpec[], {
        ...(input.concurrency === undefined ? {} : { concurrency: input.concurrency }),
        ...(ctx.signal === NEVER_ABORTED ? {} : { signal: ctx.signal }),
        start: (options) => start(options, ctx),
      }),
    {
      description:
        'Run process specs with `after` dependencies (or in sequence, or in parallel); the value is every spec’s result',
      schema: pipelineInputSchema,
    },
  );
}
