// Helpers shared by the implementation drivers: exit-status normalisation and stream draining,
// so that every driver reports exits and counts bytes the same way.
import { constants } from 'node:os';
import { finished } from 'node:stream/promises';

const SIGNAL_NAMES = Object.fromEntries(Object.entries(constants.signals).map(([k, v]) => [v, k]));

/** Signal as a name ('SIGKILL') whether the library reports a name or a number. */
export function signalName(sig) {
  if (sig === undefined || sig === null) return null;
  return typeof sig === 'number' ? (SIGNAL_NAMES[sig] ?? `signal ${sig}`) : sig;
}

export function expectSuccess(what, code, signal) {
  if (code !== 0 || (signal !== null && signal !== undefined)) {
    throw new Error(`${what}: expected exit code 0, got code=${code} signal=${signal}`);
  }
}

/** Counts and discards every byte of a readable stream; resolves with the count at 'end'. */
export async function drainCount(stream) {
  let n = 0;
  stream.on('data', (chunk) => {
    n += chunk.length;
  });
  await finished(stream);
  return n;
}

/** Node child_process stdio array for a bench stdio mode ('null' | 'pipe'). */
export function nodeStdio(mode) {
  const s = mode === 'null' ? 'ignore' : mode;
  return [s, s, s];
}

export function destroyAll(...streams) {
  for (const s of streams) s?.destroy?.();
}
