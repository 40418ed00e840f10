/**
 * PipelineError: the one error class of the runner. A pipeline is checked as a whole before
 * anything runs; what fails later (a spec's spawn, exit, timeout) is a result, not an error.
 */

export type PipelineErrorKind = 'InvalidPipeline';

/**
 * Rejects a pipeline (or runner options) before any process starts. `names` are the offending
 * specs' names; a spec without a usable name is named by its position (`specs[2]`); an option
 * error names no spec.
 * @example
 * try {
 *   await runAll([{ name: 'test', command: 'npm', args: ['test'], after: ['biuld'] }]);
 * } catch (e) {
 *   if (e instanceof PipelineError) console.error(e.message, e.names); // ... ['test']
 * }
 */
export class PipelineError extends Error {
  readonly kind: PipelineErrorKind = 'InvalidPipeline';
  readonly names: string[];

  constructor(message: string, names: readonly string[]) {
    super(message);
    this.name = 'PipelineError';
    this.names = [...names];
  }
}
