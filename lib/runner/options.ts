/**
 * Runner options: defaults and checks, made before anything runs so a bad option is a
 * PipelineError rather than a pipeline that half ran.
 */
import { availableParallelism } from 'node:os';
import { describe } from '../errors.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import { spawn } from '../process/spawn.js';
import { PipelineError } from './errors.js';
import type { ProgressEvent, RunnerOptions } from './spec.js';

/** 1 MiB: enough for the end of a failing build log, small enough to keep for 1000 specs. */
export const DEFAULT_MAX_OUTPUT = 1024 * 1024;

export interface ResolvedRunnerOptions {
  concurrency: number;
  signal: AbortSignal | undefined;
  maxOutput: number;
  start: (options: SpawnOptions) => ProcessHandle;
  onProgress: ((event: ProgressEvent) => void) | undefined;
}

function invalid(field: string, value: unknown, rule: string): PipelineError {
  return new PipelineError(`pipeline: invalid ${field}: ${describe(value)} ${rule}`, []);
}

/**
 * Fills in the defaults, or throws PipelineError naming the option and its value.
 * @example
 * resolveRunnerOptions({ concurrency: 2 }).maxOutput; // 1048576
 */
export function resolveRunnerOptions(options: RunnerOptions = {}): ResolvedRunnerOptions {
  if (options === null || typeof options !== 'object') {
    throw invalid('options', options, 'must be an object');
  }
  const { concurrency = availableParallelism(), maxOutput = DEFAULT_MAX_OUTPUT } = options;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw invalid('concurrency', concurrency, 'must be an integer >= 1');
  }
  if (!Number.isSafeInteger(maxOutput) || maxOutput < 0) {
    throw invalid('maxOutput', maxOutput, 'must be an integer number of bytes >= 0');
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw invalid('signal', options.signal, 'must be an AbortSignal');
  }
  if (options.start !== undefined && typeof options.start !== 'function') {
    throw invalid('start', options.start, 'must be a function (options) => ProcessHandle');
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw invalid('onProgress', options.onProgress, 'must be a function (event) => void');
  }
  return {
    concurrency,
    signal: options.signal,
    maxOutput,
    start: options.start ?? spawn,
    onProgress: options.onProgress,
  };
}
