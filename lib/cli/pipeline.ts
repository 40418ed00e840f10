/**
 * `core-process pipeline FILE`: runs a pipeline file (YAML or JSON) with live progress and a
 * non-zero exit if anything failed. Ctrl-C cancels: running groups are stopped, the rest
 * skipped.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PipelineError } from '../runner/errors.js';
import { runAll, runParallel, runSequential } from '../runner/run.js';
import type { PipelineResult, PipelineSpec } from '../runner/spec.js';
import { pipelineInputSchema } from '../service/pipeline.js';
import { integerIn, UsageError } from './parse.js';
import { PipelineProgress } from './progress.js';

// The file is either the object form or a bare list of specs. The form is picked by shape,
// not with z.union, whose error for a bad field is "(root): Invalid input".
const listSchema = z
  .array(pipelineInputSchema.shape.specs.element)
  .transform((specs) => ({ specs }));

// Every key a spec may carry (PipelineSpec's; the compiler checks the list is complete) and
// every top-level key. The schemas pass unknown keys through or drop them, so a typo such as
// `timout` would otherwise be ignored without a word.
const SPEC_KEYS = new Set(
  Object.keys({
    name: 1,
    command: 1,
    args: 1,
    argv0: 1,
    after: 1,
    allowFailure: 1,
    timeout: 1,
    cwd: 1,
    env: 1,
    clearEnv: 1,
    processGroup: 1,
    newSession: 1,
    killSignal: 1,
    killGrace: 1,
    forceClone: 1,
    affinity: 1,
    scheduler: 1,
    nice: 1,
    rlimits: 1,
    uid: 1,
    gid: 1,
    inheritScheduling: 1,
    containment: 1,
    dieWithParent: 1,
    pipeSize: 1,
    sandbox: 1,
    limits: 1,
  } satisfies Record<keyof PipelineSpec, 1>),
);
const TOP_KEYS = new Set(Object.keys(pipelineInputSchema.shape));

// The path of the first unknown key in data that already passed the schema, or null.
function unknownKey(data: unknown): string | null {
  const top = Array.isArray(data) ? null : (data as Record<string, unknown>);
  for (const key of Object.keys(top ?? {})) if (!TOP_KEYS.has(key)) return key;
  const specs = (top === null ? data : top.specs) as Record<string, unknown>[];
  for (const [i, spec] of specs.entries()) {
    for (const key of Object.keys(spec)) {
      if (!SPEC_KEYS.has(key)) return `${top === null ? '' : 'specs.'}${i}.${key}`;
    }
  }
  return null;
}

interface PipelineFlags {
  concurrency?: number;
  mode?: 'all' | 'sequential' | 'parallel';
  json?: boolean;
}

/**
 * Reads and validates a pipeline file; throws an Error naming the file and the field.
 *
 * @example
 * const { specs, mode } = readPipelineFile('ci.yaml');
 */
export function readPipelineFile(file: string): z.infer<typeof pipelineInputSchema> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new UsageError(
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`,
    );
  }
  const parsed = (Array.isArray(data) ? listSchema : pipelineInputSchema).safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new UsageError(`${file}: ${field}: ${issue?.message ?? 'invalid'}`);
  }
  const unknown = unknownKey(data);
  if (unknown !== null) throw new UsageError(`${file}: ${unknown}: unknown key`);
  return parsed.data;
}

const RUNNERS = { all: runAll, sequential: runSequential, parallel: runParallel } as const;

/**
 * @example
 * process.exitCode = await pipelineCommand('ci.yaml', {});
 */
export async function pipelineCommand(file: string, flags: PipelineFlags): Promise<number> {
  const input = readPipelineFile(file);
  const specs = input.specs.map((s) => ({
    ...s,
    cwd:
      s.cwd === undefined
        ? path.dirname(path.resolve(file))
        : path.resolve(path.dirname(file), String(s.cwd)),
  })) as PipelineSpec[];
  const concurrency = flags.concurrency ?? input.concurrency;
  const controller = new AbortController();
  const cancel = () => controller.abort(new Error('interrupted'));
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  const progress = flags.json
    ? null
    : new PipelineProgress(
        specs.map((s) => s.name),
        // A pseudo-terminal without a size (script, some CI runners) cannot be redrawn.
        process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0,
      );
  let result: PipelineResult;
  try {
    result = await RUNNERS[flags.mode ?? input.mode ?? 'all'](specs, {
      ...(concurrency === undefined ? {} : { concurrency }),
      signal: controller.signal,
      onProgress: (e) => progress?.update(e),
    });
  } catch (e) {
    // Checked as a whole before anything starts (cycles, unknown `after` names): a bad file.
    if (e instanceof PipelineError) throw new UsageError(`${file}: ${e.message}`);
    throw e;
  } finally {
    progress?.finish();
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    for (const s of result.specs) {
      if (s.status !== 'failed' || s.output.length === 0) continue;
      const tail = s.output.trimEnd().split('\n').slice(-20);
      process.stderr.write(`\n── ${s.name} (last ${tail.length} lines) ──\n${tail.join('\n')}\n`);
    }
    process.stderr.write(
      `\n${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped in ${(result.durationMs / 1000).toFixed(1)}s${result.cancelled ? ' (cancelled)' : ''}\n`,
    );
  }
  return result.success ? 0 : 1;
}

/**
 * The `pipeline` subcommand.
 *
 * @example
 * program.addCommand(pipelineSubcommand());
 */
export function pipelineSubcommand(): Command {
  return new Command('pipeline')
    .description('run a pipeline file: specs with `after` dependencies, with live progress')
    .argument('<file>', 'YAML or JSON: { specs: [...], mode?, concurrency? } or a list of specs')
    .addOption(
      new Option('--mode <mode>', 'all (by dependencies), sequential or parallel').choices([
        'all',
        'sequential',
        'parallel',
      ]),
    )
    .addOption(
      new Option(
        '--concurrency <n>',
        'most specs running at once (default: number of CPUs)',
      ).argParser(integerIn(1, 4096)),
    )
    .option('--json', 'print the result as JSON on stdout instead of progress')
    .addHelpText(
      'after',
      `
Exit status: 0 when every spec passed (or failed with allowFailure), 1 otherwise, 2 for a
bad file or flag. Relative cwd values resolve against the file's directory.

Example file (ci.yaml):
  concurrency: 2
  specs:
    - { name: deps, command: npm, args: [ci] }
    - { name: lint, command: npm, args: [run, lint], after: [deps] }
    - { name: test, command: npm, args: [test], after: [deps], timeout: 600000 }
    - { name: pack, command: npm, args: [pack], after: [lint, test] }

Examples:
  core-process pipeline ci.yaml
  core-process pipeline --mode sequential --json deploy.json > result.json`,
    )
    .action(async (file: string, flags: PipelineFlags) => {
      process.exitCode = await pipelineCommand(file, flags);
    });
}
