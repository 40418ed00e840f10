// The two implementations every conformance test runs against, with the same expectations:
// any divergence from Node shows as the 'core' row failing (or, for a wrong expectation, the
// 'node' row).
import * as nodeCp from 'node:child_process';
import * as coreCp from '../../lib/child_process/index.js';

export type Impl = typeof coreCp;

/** The running Node's own module: the reference every expectation that differs by line takes. */
export { nodeCp };

export const IMPLS: [string, Impl][] = [
  ['node', nodeCp as unknown as Impl],
  ['core', coreCp],
];

/**
 * A program that does not exist, by absolute path: a PATH search can answer EACCES instead of
 * ENOENT for a user who cannot enter one of its directories (both Node and we do).
 */
export const MISSING = '/nonexistent-core-compat/no-such-program';

export const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;

/** The events a child emits, in order, until 'close' (or 'error' + 'close'). */
export function recordEvents(
  child: import('node:events').EventEmitter,
): Promise<(string | unknown[])[]> {
  const seen: (string | unknown[])[] = [];
  return new Promise((resolve) => {
    child.on('spawn', () => seen.push('spawn'));
    child.on('exit', (code, signal) => seen.push(['exit', code, signal]));
    child.on('error', (e: Error & { code?: string }) => seen.push(['error', e.code]));
    child.on('close', (code, signal) => {
      seen.push(['close', code, signal]);
      resolve(seen);
    });
  });
}

/** Collects a readable stream to a string. */
export function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  return new Promise((resolve, reject) => {
    if (stream === null) {
      resolve('');
      return;
    }
    let out = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      out += d;
    });
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}
