// Suites that need a system tool the project does not install for a newcomer (a browser, a
// cross toolchain): without it they are skipped with a line that says how to get it, except
// where CI is set, where a missing tool must fail the run rather than shrink it unseen.
import { describe } from 'vitest';

/**
 * `describe` when the tool is there (or CI is set), else `describe.skip` plus a visible line.
 *
 * @example
 * const suite = needsTool('chromium', existsSync('/usr/bin/chromium'), 'apt-get install chromium');
 * suite('web panel', () => { ... });
 */
export function needsTool(
  tool: string,
  present: boolean,
  howToGet: string,
): typeof describe | typeof describe.skip {
  if (present || process.env.CI) return describe;
  const line = `SKIPPED: ${tool} is not installed (${howToGet}); CI=true makes this a failure`;
  // Written straight to the terminal: vitest folds console output of skipped files away.
  process.stderr.write(`\n${line}\n`);
  return describe.skip;
}
