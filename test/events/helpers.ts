// Shared by the events tests: a valid envelope to break one field at a time, and the events
// layer compiled for plain Node child processes.
import cp from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EventEnvelope } from '../../lib/events/envelope.js';
import { ROOT } from '../subprocess.js';

/** A valid envelope; every call returns a fresh object the test may mutate. */
export function validEvent(payload: Record<string, unknown> = { pid: 42 }): EventEnvelope {
  return {
    name: 'process.started',
    version: 1,
    uuid: '0192f7a4-7c3e-7b1a-9c2d-3e4f5a6b7c8d',
    timestamp: '2026-03-01T12:00:00.123Z',
    actor: { kind: 'service', id: 'test/process' },
    artifact: { type: 'process', id: '42', path: '', revision: '' },
    payload,
  };
}

/** Parses every non-empty line of a JSONL file; throws (failing the test) on a broken line. */
export function readJsonl(file: string): EventEnvelope[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l, i) => {
      try {
        return JSON.parse(l) as EventEnvelope;
      } catch {
        throw new Error(`${file}: line ${i + 1} is not JSON: ${l.slice(0, 120)}...`);
      }
    });
}

let compiled: string | undefined;

/**
 * The file URL of jsonl.js compiled from lib/events/jsonl.ts alone. Only the writer and the
 * type-only modules it names are compiled, so the child processes test exactly this file
 * and do not depend on the rest of lib/ compiling at this moment.
 */
export function compiledJsonlWriter(): string {
  if (compiled !== undefined) return compiled;
  // The whole library compiled once for this run (test/global-setup.ts), when there is one.
  const shared = process.env.CORE_PROCESS_COMPILED_LIB;
  if (shared !== undefined) {
    compiled = pathToFileURL(path.join(shared, 'events', 'jsonl.js')).href;
    return compiled;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'core-events-lib-'));
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  cp.execFileSync(
    process.execPath,
    [
      tsc,
      path.join(ROOT, 'lib', 'events', 'jsonl.ts'),
      ...['--outDir', out, '--rootDir', path.join(ROOT, 'lib')],
      ...['--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022'],
      ...['--types', 'node', '--strict', '--skipLibCheck'],
    ],
    { cwd: ROOT, stdio: 'pipe' },
  );
  // The compiled tree is ESM; tell Node so without a package.json from the repository.
  fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}\n');
  compiled = pathToFileURL(path.join(out, 'events', 'jsonl.js')).href;
  return compiled;
}

/** Removes the compiled copy; call from afterAll. */
export function removeCompiledJsonlWriter(): void {
  if (compiled === undefined) return;
  const dir = path.dirname(path.dirname(new URL(compiled).pathname));
  fs.rmSync(dir, { recursive: true, force: true });
  compiled = undefined;
}
