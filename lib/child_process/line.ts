/**
 * The Node line this process runs on, for the few places where node:child_process itself
 * behaves differently from one line to the next: the facade follows the Node it runs on, so
 * that swapping the import never changes an answer.
 */
const [major = 0] = process.versions.node.split('.').map(Number);

/** The running Node's major version (20, 22, 24, 26...). */
export const NODE_MAJOR: number = major;

/**
 * What spawnSync() puts in `stdout`/`stderr` when there is no `output` at all (the spawn
 * failed): Node 20 computes `result.output && result.output[1]` (null), Node 22 onwards
 * `result.output?.[1]` (undefined).
 */
export const NO_OUTPUT: null | undefined = NODE_MAJOR >= 22 ? undefined : null;
