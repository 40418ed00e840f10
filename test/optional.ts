// Suites that need a system tool the project does not install for a newcomer (a browser, a
// cross toolchain): without it they are skipped with a line that says how to get it, except
// where CI is set, where a missing tool must fail the run rather than shrink it unseen.
import { describe, it } from 'vitest';

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

const privileged = process.getuid?.() === 0;

/**
 * `it`/`describe` for tests that need root (realtime priorities, switching to another user,
 * a writable cgroup v2): without it they are skipped with one line naming what they need.
 *
 * @example
 * const { itRoot } = asRoot('SCHED_FIFO at spawn');
 * itRoot('fifo 10 shows in chrt -p', async () => { ... });
 */
export function asRoot(what: string): {
  itRoot: typeof it | typeof it.skip;
  describeRoot: typeof describe | typeof describe.skip;
} {
  if (privileged) return { itRoot: it, describeRoot: describe };
  process.stderr.write(
    `\nSKIPPED as uid ${process.getuid?.()}: ${what} needs root; run npm test as root to include it\n`,
  );
  return { itRoot: it.skip, describeRoot: describe.skip };
}
