/**
 * The pipeline's public shapes: what a caller declares (PipelineSpec, RunnerOptions) and what
 * a run reports (SpecResult, PipelineResult, ProgressEvent). Types only.
 */
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import type { ExitStatus } from '../process/status.js';

/**
 * One step of a pipeline: a program and the spawn options it runs with. The runner owns
 * stdio (stdin /dev/null, stdout and stderr captured), the process group and the abort
 * signal, so those options are not part of a spec.
 */
export interface PipelineSpec
  extends Omit<
    SpawnOptions,
    'program' | 'args' | 'signal' | 'stdin' | 'stdout' | 'stderr' | 'extraFds'
  > {
  /** Unique within the pipeline; what `after`, results and errors refer to. */
  name: string;
  /** The program: looked up in PATH when it has no '/'. */
  command: string;
  args?: string[];
  /** Names of the specs that must finish successfully first (runAll only). */
  after?: string[];
  /** Its failure neither skips its dependents nor makes the pipeline unsuccessful. */
  allowFailure?: boolean;
  /** Milliseconds until the spec's group is signalled (killSignal, then SIGKILL after killGrace). */
  timeout?: number;
}

export type SpecStatus = 'passed' | 'failed' | 'skipped';

export interface SpecResult {
  name: string;
  status: SpecStatus;
  /** Null when the spec never ran or could not be spawned. */
  exitStatus: ExitStatus | null;
  /** Start attempt to end of output, on the monotonic clock; 0 for a skipped spec. */
  durationMs: number;
  /** stdout and stderr interleaved in arrival order, UTF-8, the newest `maxOutput` bytes. */
  output: string;
  /**
   * Why it failed beyond its exit status (spawn error, timeout, cancelled while running),
   * or why it was skipped ("dependency build failed", "cancelled").
   */
  error?: string;
}

export interface PipelineResult {
  /** One result per spec, in declared order. */
  specs: SpecResult[];
  passed: number;
  /** Every failed spec, allowFailure ones included. */
  failed: number;
  skipped: number;
  durationMs: number;
  /** No failed spec without allowFailure, nothing skipped, not cancelled. */
  success: boolean;
  cancelled: boolean;
}

/**
 * Each spec reports either `started` then `finished`, or only `finished` (it could not be
 * spawned), or only `skipped`: exactly one terminal event per spec.
 */
export type ProgressEvent =
  | { type: 'started'; name: string; pid: number }
  | { type: 'finished'; result: SpecResult }
  | { type: 'skipped'; result: SpecResult };

export interface RunnerOptions {
  /** Most specs running at once; an integer >= 1, default os.availableParallelism(). */
  concurrency?: number;
  /**
   * Cancels the pipeline: running specs' groups get their killSignal (SIGTERM by default),
   * then SIGKILL after their killGrace (2000 ms by default); specs not started are skipped.
   */
  signal?: AbortSignal;
  /** Output bytes kept per spec (the newest); an integer >= 0, default 1 MiB. */
  maxOutput?: number;
  /** The spawner; default the process layer's spawn(). A throw fails that spec. */
  start?: (options: SpawnOptions) => ProcessHandle;
  /** Called synchronously on every progress event; a throw is reported as a warning. */
  onProgress?: (event: ProgressEvent) => void;
}
