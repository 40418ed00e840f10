// Builds the C baselines (bench/c/*.c) with `cc -O2` into a temp dir at bench time and runs
// them. When no C compiler is available, reports why so the driver can skip the C columns.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const SRC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'c');
const PROGRAMS = [
  'spawn_loop',
  'pipe_reader',
  'writer',
  'kill_latency',
  'timer_lateness',
  'sched_calls',
];

/**
 * @returns {{ ok: true, dir: string, bins: Record<string, string>, cleanup(): void }
 *   | { ok: false, reason: string, cleanup(): void }}
 */
export function buildC() {
  const cc = process.env.CC || 'cc';
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
  } catch (err) {
    return {
      ok: false,
      reason: `C compiler '${cc}' not usable (${err.code ?? err.message})`,
      cleanup() {},
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'core-process-bench-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const bins = {};
  for (const name of PROGRAMS) {
    const out = join(dir, name);
    try {
      execFileSync(cc, ['-O2', '-Wall', '-pthread', '-o', out, join(SRC_DIR, `${name}.c`)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    } catch (err) {
      cleanup();
      const stderr = err.stderr?.toString().trim().split('\n').slice(0, 5).join(' | ');
      return {
        ok: false,
        reason: `compiling ${name}.c failed: ${stderr || err.message}`,
        cleanup() {},
      };
    }
    bins[name] = out;
  }
  return { ok: true, dir, bins, cleanup };
}

/** Runs a C baseline and parses the single JSON object it prints. */
export async function runC(bin, args, { timeoutMs = 120_000 } = {}) {
  const { stdout } = await execFileP(bin, args, {
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout);
}
