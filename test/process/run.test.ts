// run(): output collection, input, encodings, limits and the errors it turns exits into.
import { describe, expect, it } from 'vitest';
import { ProcessError, run } from '../../lib/index.js';
import { procState } from '../helpers.js';

async function failure(p: Promise<unknown>): Promise<ProcessError> {
  const e = await p.then(
    () => new Error('expected a rejection'),
    (err: unknown) => err,
  );
  if (!(e instanceof ProcessError)) throw e;
  return e;
}

describe('run', () => {
  it('collects stdout and stderr as strings', async () => {
    const r = await run('sh', ['-c', 'printf out; printf err >&2']);
    expect(r).toMatchObject({ stdout: 'out', stderr: 'err', timedOut: false, aborted: false });
    expect(r.status.code).toBe(0);
    expect(r.pid).toBeGreaterThan(0);
  });

  it('feeds input to stdin and closes it', async () => {
    const r = await run('wc', ['-c'], { input: 'x'.repeat(100_000) });
    expect(r.stdout.trim()).toBe('100000');
  });

  it('gives stdin /dev/null without input, so readers see EOF at once', async () => {
    const r = await run('cat');
    expect(r.stdout).toBe('');
  });

  it("encoding: 'buffer' returns exact bytes", async () => {
    const r = await run('printf', ['\\377\\000\\001'], { encoding: 'buffer' });
    expect([...r.stdout]).toEqual([255, 0, 1]);
  });

  it('all interleaves both streams in arrival order', async () => {
    const r = await run('sh', ['-c', 'echo 1; sleep 0.05; echo 2 >&2; sleep 0.05; echo 3'], {
      all: true,
    });
    expect(r.all).toBe('1\n2\n3\n');
  });

  it('merges env over process.env, removes undefined keys, and clearEnv starts empty', async () => {
    process.env.CORE_PROCESS_TEST_INHERITED = 'yes';
    try {
      const merged = await run('env', [], { env: { EXTRA: '1', HOME: undefined } });
      expect(merged.stdout).toContain('CORE_PROCESS_TEST_INHERITED=yes\n');
      expect(merged.stdout).toContain('EXTRA=1\n');
      expect(merged.stdout).not.toMatch(/^HOME=/m);
      const inherited = await run('env');
      expect(inherited.stdout).toContain('CORE_PROCESS_TEST_INHERITED=yes\n');
      const clean = await run('/usr/bin/env', [], { clearEnv: true, env: { ONLY: 'this' } });
      expect(clean.stdout).toBe('ONLY=this\n');
    } finally {
      delete process.env.CORE_PROCESS_TEST_INHERITED;
    }
  });

  it('sets argv0 and cwd', async () => {
    const r = await run('sh', ['-c', 'echo "$0 $(pwd)"'], { argv0: 'renamed', cwd: '/tmp' });
    expect(r.stdout).toBe('renamed /tmp\n');
  });

  it('rejects NonZeroExit with the code, the output and the status', async () => {
    const e = await failure(run('sh', ['-c', 'echo before; echo why >&2; exit 3']));
    expect(e).toMatchObject({ kind: 'NonZeroExit', code: 3, stdout: 'before\n', stderr: 'why\n' });
    expect(e.status?.code).toBe(3);
    expect(e.message).toBe('run sh -c echo before; echo why >&2; exit 3: exited with code 3');
  });

  it('rejects TerminatedBySignal with the signal name', async () => {
    const e = await failure(run('sh', ['-c', 'kill -TERM $$']));
    expect(e).toMatchObject({ kind: 'TerminatedBySignal', code: 'SIGTERM' });
  });

  it('reject: false resolves with the status instead', async () => {
    const r = await run('sh', ['-c', 'exit 5'], { reject: false });
    expect(r.status.code).toBe(5);
  });

  it('maxBuffer stops the child and names the limit', async () => {
    const e = await failure(run('head', ['-c', '10000000', '/dev/zero'], { maxBuffer: 4096 }));
    expect(e.kind).toBe('TerminatedBySignal');
    expect(e.code).toBe('MAXBUFFER');
    expect(e.message).toContain('stdout exceeded maxBuffer (4096 bytes)');
    expect((e.stdout as string).length).toBe(4096);
    expect(e.status?.signal).toBe('SIGTERM');
    expect(procState(e.status?.pid ?? 0)).toBeNull();
  });

  it('spawn failures reject with the spawn error', async () => {
    const e = await failure(run('definitely-not-installed-anywhere'));
    expect(e).toMatchObject({ kind: 'NotFound', code: 'ENOENT' });
  });

  it('validates its own options', async () => {
    await expect(run('true', [], { maxBuffer: -1 })).rejects.toThrow(/maxBuffer: -1/);
    // @ts-expect-error: not an encoding
    await expect(run('true', [], { encoding: 'klingon' })).rejects.toThrow(/encoding: "klingon"/);
  });

  it('does not wait for grandchildren holding the pipes after a timeout', async () => {
    const e = await failure(
      run('sh', ['-c', 'sleep 30 & trap "" TERM; exec sleep 30'], { timeout: 100, killGrace: 100 }),
    );
    expect(e.kind).toBe('TimedOut');
    expect(e.status?.durationMs).toBeLessThan(10_000);
  });
});
