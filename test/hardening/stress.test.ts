/**
 * The stress harness (scripts/stress.js) against lib/ as it is now: compiled into a temporary
 * directory (dist/ may be stale) and named by STRESS_LIB. The harness checks /proc itself
 * (zombies, descriptors, RSS); these tests hold it to its summary, and show it can fail.
 */
import cp from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, compiledLib, ROOT, removeCompiledLib } from '../subprocess.js';

const SCRIPT = path.join(ROOT, 'scripts', 'stress.js');
const LEAKY = pathToFileURL(path.join(ROOT, 'test', 'hardening', 'fixtures', 'leaky-lib.mjs')).href;

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function stress(env: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    cp.execFile(
      process.execPath,
      ['--expose-gc', SCRIPT],
      { env: childEnv(env), timeout: 120_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number' && err.signal == null) {
          reject(err);
          return;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, signal: err?.signal ?? null, stdout, stderr });
      },
    );
  });
}

/** The value column of a summary row, and whether the row says ok. */
function row(stdout: string, name: string): { value: string; ok: boolean } {
  const line = stdout.split('\n').find((l) => l.trimStart().startsWith(`${name}  `));
  if (line === undefined) throw new Error(`no "${name}" row in:\n${stdout}`);
  const rest = line.trim().slice(name.length).trim();
  const ok = rest.endsWith('  ok');
  return { value: rest.replace(/\s+(ok|FAIL)$/, ''), ok };
}

/**
 * A bound, not a timing: under the sanitizers every child loads the ASan runtime (about 50 ms
 * each on this 2-CPU machine), and 3,000 of them take a minute. Above the harness's own
 * 120 s execFile timeout, so that one reports first.
 */
const STRESS_BOUND_MS = 150_000;

/**
 * Children in the good run: 3,000, or STRESS_TEST_COUNT (a multiple of 20, the mix's period).
 * CI's sanitizer pass runs 1,000: there each child costs 50 ms of runtime loading, and the
 * leak and error checks see every scenario of the mix either way.
 */
const COUNT = Number(process.env.STRESS_TEST_COUNT ?? 3000);
if (!Number.isInteger(COUNT) || COUNT <= 0 || COUNT % 20 !== 0) {
  throw new Error(`STRESS_TEST_COUNT=${process.env.STRESS_TEST_COUNT}: a positive multiple of 20`);
}
const RUNS = COUNT / 5; // the mix has run(), run-input, run-nonzero and run-timeout in 20

let lib: string;

beforeAll(async () => {
  lib = await compiledLib(); // tsc over lib/: slow on a busy 2-CPU machine
}, 180_000);

afterAll(() => {
  removeCompiledLib();
});

describe('stress harness (scripts/stress.js)', () => {
  it(
    `good: ${COUNT.toLocaleString('en')} mixed children, 64 in flight: no zombie, no fd growth, bounded RSS, every exit observed once with the status its scenario implies`,
    async () => {
      const r = await stress({ STRESS_COUNT: String(COUNT), STRESS_LIB: lib });
      expect({ code: r.code, signal: r.signal, stderr: r.stderr }, r.stdout).toEqual({
        code: 0,
        signal: null,
        stderr: '',
      });
      expect(r.stdout).toContain(`${COUNT} children, 64 in flight, lib ${lib}`);
      // Progress every 5%, with a rate.
      const progress = r.stdout.split('\n').filter((l) => /^\[\s*\d+%\] .* spawns\/s/.test(l));
      expect(progress).toHaveLength(20);
      expect(progress.at(-1)).toMatch(new RegExp(`^\\[100%\\] ${COUNT}/${COUNT} done`));

      expect(row(r.stdout, 'children spawned')).toEqual({
        value: `${COUNT} of ${COUNT}`,
        ok: true,
      });
      const exits = row(r.stdout, 'exits observed once');
      expect(exits.ok).toBe(true);
      expect(exits.value).toBe(
        `${COUNT}/${COUNT} (exited ${COUNT - RUNS}, run ${RUNS}); addon callbacks ${COUNT}, duplicates 0`,
      );
      expect(row(r.stdout, 'status consistency')).toEqual({ value: '0 mismatches', ok: true });
      expect(row(r.stdout, 'zombie children')).toEqual({ value: '0', ok: true });
      expect(row(r.stdout, 'live children left')).toEqual({ value: '0', ok: true });
      const fds = row(r.stdout, 'fd count');
      expect(fds.ok).toBe(true);
      const delta = Number(/delta (-?\d+)/.exec(fds.value)?.[1]);
      expect(delta).toBeLessThanOrEqual(2);
      const rss = row(r.stdout, 'RSS after GC');
      expect(rss.ok).toBe(true);
      expect(rss.value).toMatch(
        /^before [\d.]+ MiB, after [\d.]+ MiB \(delta [-+][\d.]+ MiB, bound 32 MiB\)$/,
      );
      expect(r.stdout).toMatch(/^ {2}duration\s+[\d.]+ s \(\d+ spawns\/s\)$/m);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('RESULT: PASS');
    },
    STRESS_BOUND_MS,
  );

  it(
    'bad: a library that leaks a descriptor every 50 spawns fails the fd check and exits 1',
    async () => {
      const r = await stress({ STRESS_COUNT: '300', STRESS_LIB: LEAKY, STRESS_REAL_LIB: lib });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const fds = row(r.stdout, 'fd count');
      expect(fds.ok).toBe(false);
      expect(Number(/delta (-?\d+)/.exec(fds.value)?.[1])).toBeGreaterThan(2);
      // Everything else about the children still holds.
      expect(row(r.stdout, 'zombie children').ok).toBe(true);
      expect(row(r.stdout, 'exits observed once').ok).toBe(true);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('RESULT: FAIL (fd count)');
    },
    STRESS_BOUND_MS,
  );
});
