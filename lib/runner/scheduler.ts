/**
 * The scheduler: starts specs as their gate opens and a slot is free, in declared order,
 * collects their results, and on cancel stops everything it started before it settles.
 */

import { launchSpec, type SpecExecution } from './execute.js';
import { type DependencyState, gate, type PipelineGraph } from './graph.js';
import type { ResolvedRunnerOptions } from './options.js';
import type { PipelineResult, PipelineSpec, ProgressEvent, SpecResult } from './spec.js';

function skippedResult(name: string, reason: string): SpecResult {
  return { name, status: 'skipped', exitStatus: null, durationMs: 0, output: '', error: reason };
}

function nameOf(event: ProgressEvent): string {
  return event.type === 'started' ? event.name : event.result.name;
}

/**
 * Runs a checked pipeline to the end and resolves with every spec's result; never rejects.
 * `concurrency` is the slot count (runSequential passes 1).
 * @example
 * const specs = [{ name: 'a', command: 'true' }];
 * const result = await schedule(specs, buildGraph(specs, 'all'), resolveRunnerOptions(), 2);
 */
export function schedule(
  specs: readonly PipelineSpec[],
  graph: PipelineGraph,
  options: ResolvedRunnerOptions,
  concurrency: number,
): Promise<PipelineResult> {
  const startedAt = performance.now();
  const n = specs.length;
  const results: Array<SpecResult | undefined> = new Array(n).fill(undefined);
  // For a spec that blocks its dependents: the failed spec the chain began with.
  const roots: string[] = new Array(n).fill('');
  const running = new Map<number, SpecExecution>();
  let settled = 0;
  let cancelled = false;
  let pumping = false;
  let again = false;
  let resolveAll!: () => void;
  const allSettled = new Promise<void>((resolve) => {
    resolveAll = resolve;
  });

  const emit = (event: ProgressEvent): void => {
    if (options.onProgress === undefined) return;
    try {
      options.onProgress(event);
    } catch (e) {
      // A broken progress display must not stop a build or leave its processes unwatched.
      process.emitWarning(
        `pipeline: onProgress threw on ${event.type} of spec "${nameOf(event)}": ${e instanceof Error ? e.message : String(e)}`,
        'PipelineWarning',
      );
    }
  };

  const settle = (i: number, result: SpecResult, root: string): void => {
    results[i] = result;
    roots[i] = root;
    settled++;
    emit({ type: result.status === 'skipped' ? 'skipped' : 'finished', result });
  };

  const stateOf = (d: number): DependencyState => {
    const r = results[d];
    if (r === undefined) return { state: 'unfinished' };
    if (r.status === 'passed' || (r.status === 'failed' && specs[d]?.allowFailure === true)) {
      return { state: 'succeeded' };
    }
    return { state: 'blocking', skipped: r.status === 'skipped', root: roots[d] as string };
  };

  const launch = (i: number): void => {
    const spec = specs[i] as PipelineSpec;
    const launched = launchSpec(spec, options.start, options.maxOutput);
    if ('failed' in launched) {
      settle(i, launched.failed, spec.name);
      again = true; // its dependents can be skipped in this same pass
      return;
    }
    const execution = launched.running;
    // Registered before 'started' is emitted: a listener that aborts right there must find
    // this process among those to stop.
    running.set(i, execution);
    emit({ type: 'started', name: spec.name, pid: execution.handle.pid });
    void execution.done
      .catch(
        // done is built never to reject; should it anyway, a pipeline waiting forever on a
        // spec that will never report is the worse outcome.
        (e: unknown): SpecResult => ({
          name: spec.name,
          status: 'failed',
          exitStatus: execution.handle.status,
          durationMs: 0,
          output: '',
          error: `runner: ${e instanceof Error ? e.message : String(e)}`,
        }),
      )
      .then((result) => {
        running.delete(i);
        settle(i, result, spec.name);
        pump();
      });
  };

  // Re-entrant calls (an abort from inside onProgress, a spec failing to spawn) only ask for
  // another pass: one loop owns the state at a time.
  const pump = (): void => {
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        for (let i = 0; i < n; i++) {
          if (results[i] !== undefined || running.has(i)) continue;
          const name = (specs[i] as PipelineSpec).name;
          if (cancelled) {
            settle(i, skippedResult(name, 'cancelled'), 'cancelled');
            continue;
          }
          const g = gate(graph, i, stateOf);
          if (g.gate === 'skip') {
            settle(i, skippedResult(name, g.reason), g.root);
            // An earlier-declared spec may wait for this one.
            again = true;
          } else if (g.gate === 'ready' && running.size < concurrency) {
            launch(i);
          }
        }
      } while (again);
    } finally {
      pumping = false;
    }
    if (settled === n && running.size === 0) resolveAll();
  };

  const signal = options.signal;
  const onAbort = (): void => {
    if (cancelled) return;
    cancelled = true;
    for (const execution of running.values()) execution.cancel();
    pump();
  };
  if (signal?.aborted) cancelled = true;
  else signal?.addEventListener('abort', onAbort, { once: true });

  pump();
  return allSettled.then(() => {
    signal?.removeEventListener('abort', onAbort);
    const all = results as SpecResult[];
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let failedWithoutAllow = 0;
    all.forEach((r, i) => {
      if (r.status === 'passed') passed++;
      else if (r.status === 'skipped') skipped++;
      else {
        failed++;
        if (specs[i]?.allowFailure !== true) failedWithoutAllow++;
      }
    });
    return {
      specs: all,
      passed,
      failed,
      skipped,
      durationMs: performance.now() - startedAt,
      success: failedWithoutAllow === 0 && skipped === 0 && !cancelled,
      cancelled,
    };
  });
}
