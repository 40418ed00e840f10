/**
 * `core-process run --rt-node`: the V8 flags a realtime Node program needs, inserted after the
 * node executable. They are per process, only the command line takes them (Node refuses
 * --single-threaded-gc and --min-semi-space-size in NODE_OPTIONS), and a running program
 * cannot set them safely (v8.setFlagsFromString('--single-threaded-gc') crashed Node 20 at
 * the next full GC).
 */
import path from 'node:path';

/**
 * No GC helper threads (they run at SCHED_OTHER and a realtime thread that collects waits for
 * them), a young generation of a fixed 16 MiB (scavenges rare and all the same size), and no
 * memory reducer: its idle-time GCs discard pages (madvise), which locked memory then faults
 * back in on the next touch, in the middle of the loop.
 */
export const RT_NODE_FLAGS: readonly string[] = [
  '--single-threaded-gc',
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
  '--no-memory-reducer',
];

/** True for a program that is Node: `node`, `nodejs`, `node20`, or this very executable. */
export function isNodeProgram(program: string): boolean {
  return program === process.execPath || /^node(js)?(\d+)?$/.test(path.basename(program));
}

/**
 * argv with RT_NODE_FLAGS after the node executable; null when the program is not Node.
 * @example
 * withRtNodeFlags(['node', 'app.js']); // ['node', '--single-threaded-gc', ..., 'app.js']
 */
export function withRtNodeFlags(argv: readonly string[]): string[] | null {
  const [program, ...rest] = argv;
  if (program === undefined || !isNodeProgram(program)) return null;
  return [program, ...RT_NODE_FLAGS, ...rest];
}
