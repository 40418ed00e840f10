// Shared by the runner tests: specs that leave traces in files, and observers that read what
// ran (and what is still alive) from the files and from /proc, outside the runner.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../../lib/runner/errors.js';
import type { PipelineSpec } from '../../lib/runner/spec.js';

/** Quotes a path for sh. Temp paths have no quote, so single quotes are enough. */
function q(p: string): string {
  return `'${p}'`;
}

/**
 * A spec that appends `<name>-start` to `log`, sleeps, appends `<name>-end` and exits with
 * `code`. O_APPEND writes of one short line are atomic, so concurrent specs never tear a line.
 */
export function traced(
  name: string,
  log: string,
  extra: Partial<PipelineSpec> & { seconds?: number; code?: number } = {},
): PipelineSpec {
  const { seconds = 0.1, code = 0, ...rest } = extra;
  return {
    name,
    command: 'sh',
    args: [
      '-c',
      `echo ${name}-start >> ${q(log)}; sleep ${seconds}; echo ${name}-end >> ${q(log)}; exit ${code}`,
    ],
    ...rest,
  };
}

/** A spec that creates `dir/<name>` when it runs, then exits with `code`. */
export function marking(
  name: string,
  dir: string,
  extra: Partial<PipelineSpec> & { code?: number } = {},
): PipelineSpec {
  const { code = 0, ...rest } = extra;
  return {
    name,
    command: 'sh',
    args: ['-c', `touch ${q(path.join(dir, name))}; exit ${code}`],
    ...rest,
  };
}

export function ran(dir: string, name: string): boolean {
  return existsSync(path.join(dir, name));
}

export function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** The line number of `entry` in a trace; throws when absent so a missing step is loud. */
export function at(trace: string[], entry: string): number {
  const i = trace.indexOf(entry);
  if (i < 0) throw new Error(`no "${entry}" in trace ${JSON.stringify(trace)}`);
  return i;
}

/** The most specs alive at once according to a trace of start/end lines. */
export function maxOverlap(trace: string[]): number {
  let alive = 0;
  let max = 0;
  for (const line of trace) {
    if (line.endsWith('-start')) max = Math.max(max, ++alive);
    else if (line.endsWith('-end')) alive--;
  }
  return max;
}

export { liveGroupMembers } from '../helpers.js';

/** The PipelineError a promise rejects with; fails the test on anything else. */
export async function rejection(p: Promise<unknown>): Promise<PipelineError> {
  const e = await p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  if (!(e instanceof PipelineError)) throw e;
  return e;
}

/** Kills what a test left in a process group, if anything; never throws. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}
