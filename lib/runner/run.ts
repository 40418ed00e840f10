/**
 * The three ways to run a pipeline: by dependencies (runAll), one after another
 * (runSequential), all at once (runParallel). Each checks everything first and rejects with
 * PipelineError before any process starts; after that it always resolves with a result.
 */
import { buildGraph, type PipelineMode } from './graph.js';
import { resolveRunnerOptions } from './options.js';
import { schedule } from './scheduler.js';
import type { PipelineResult, PipelineSpec, RunnerOptions } from './spec.js';

async function runMode(
  specs: readonly PipelineSpec[],
  mode: PipelineMode,
  options: RunnerOptions | undefined,
): Promise<PipelineResult> {
  const graph = buildGraph(specs, mode);
  const resolved = resolveRunnerOptions(options);
  return schedule(specs, graph, resolved, mode === 'sequential' ? 1 : resolved.concurrency);
}

/**
 * Runs specs by their `after` dependencies: a spec starts once every dependency passed (or
 * failed with allowFailure) and a slot is free, ready specs in declared order. A failed or
 * skipped dependency skips its dependents, transitively; independent branches keep going.
 * Rejects PipelineError for empty or duplicate names, missing commands, unknown
 * dependencies and cycles, before anything runs.
 * @example
 * const result = await runAll([
 *   { name: 'build', command: 'npm', args: ['run', 'build'] },
 *   { name: 'test', command: 'npm', args: ['test'], after: ['build'], timeout: 60_000 },
 *   { name: 'lint', command: 'npx', args: ['biome', 'check'], allowFailure: true },
 * ], { concurrency: 2, onProgress: (e) => console.log(e.type) });
 * if (!result.success) process.exitCode = 1;
 */
export function runAll(
  specs: readonly PipelineSpec[],
  options?: RunnerOptions,
): Promise<PipelineResult> {
  return runMode(specs, 'all', options);
}

/**
 * Runs specs one at a time in declared order, ignoring `after`. The first failure without
 * allowFailure stops it: every later spec is skipped ("an earlier spec failed: <name>").
 * @example
 * const result = await runSequential([
 *   { name: 'fetch', command: 'git', args: ['fetch'] },
 *   { name: 'rebase', command: 'git', args: ['rebase', 'origin/main'] },
 * ]);
 */
export function runSequential(
  specs: readonly PipelineSpec[],
  options?: RunnerOptions,
): Promise<PipelineResult> {
  return runMode(specs, 'sequential', options);
}

/**
 * Runs every spec at once (at most `concurrency` at a time, in declared order), ignoring
 * `after`; a failure skips nothing.
 * @example
 * const result = await runParallel(
 *   ['a.txt', 'b.txt'].map((f) => ({ name: f, command: 'gzip', args: ['-k', f] })),
 *   { concurrency: 4 },
 * );
 */
export function runParallel(
  specs: readonly PipelineSpec[],
  options?: RunnerOptions,
): Promise<PipelineResult> {
  return runMode(specs, 'parallel', options);
}
