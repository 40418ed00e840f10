// Exec, observed from outside: what the hook read on stdin, what env it saw, its real exit
// code and stderr, and /proc/<pid> after a timeout (the hook is really gone).
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessError } from '../../lib/errors.js';
import { Exec, ExecExitError, ExecTimeoutError } from '../../lib/events/exec.js';
import { eventually, tempDir } from '../helpers.js';
import { validEvent } from './helpers.js';

const INHERITED = 'CORE_EVENTS_TEST_INHERITED';
afterEach(() => {
  delete process.env[INHERITED];
});

function alive(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

function readPid(file: string): number {
  const pid = Number(fs.readFileSync(file, 'utf8').trim());
  expect(pid).toBeGreaterThan(1);
  return pid;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the delivery to reject');
}

describe('Exec (constructor)', () => {
  it('good: the name is exec:<argv joined by spaces>; timeout defaults to 5000 ms', () => {
    const hook = new Exec(['/usr/bin/notify', '--channel', 'ops']);
    expect(hook.name).toBe('exec:/usr/bin/notify --channel ops');
    expect(hook.timeoutMs).toBe(5000);
  });

  it('bad: an empty argv is a TypeError', () => {
    expect(() => new Exec([])).toThrow(TypeError);
    expect(() => new Exec([''])).toThrow(/argv must be a non-empty array/);
  });

  it('ugly: bounds are the config loader’s job: a 1 ms timeout is accepted here', () => {
    expect(new Exec(['true'], { timeoutMs: 1 }).timeoutMs).toBe(1);
  });
});

describe('Exec.deliver', () => {
  it('good: the hook reads exactly the JSON envelope on stdin', async () => {
    const dir = tempDir('core-events-exec-');
    const file = path.join(dir, 'stdin.json');
    const event = validEvent({ text: 'ünïcode "quoted"\nline', big: 'y'.repeat(200_000) });
    await new Exec(['sh', '-c', `cat > '${file}'`]).deliver(event);
    expect(fs.readFileSync(file, 'utf8')).toBe(JSON.stringify(event));
  });

  it('good: the env mapping is added to the inherited environment, not a replacement', async () => {
    const dir = tempDir('core-events-exec-');
    const file = path.join(dir, 'env.txt');
    process.env[INHERITED] = 'from-parent';
    const hook = new Exec(
      ['sh', '-c', `printf '%s|%s|%s' "$${INHERITED}" "$HOOK_VAR" "$PATH" > '${file}'`],
      { env: { HOOK_VAR: 'configured' } },
    );
    await hook.deliver(validEvent());
    expect(fs.readFileSync(file, 'utf8')).toBe(`from-parent|configured|${process.env.PATH}`);
  });

  it('good: a hook that never reads stdin and exits 0 is a success (EPIPE is not a failure)', async () => {
    await expect(
      new Exec(['true']).deliver(validEvent({ big: 'z'.repeat(1 << 20) })),
    ).resolves.toBeUndefined();
  });

  it('bad: a non-zero exit rejects ExecExitError with the code and the stderr', async () => {
    const e = await rejection(
      new Exec(['sh', '-c', 'cat >/dev/null; echo "no route to hook" >&2; exit 3']).deliver(
        validEvent(),
      ),
    );
    expect(e).toBeInstanceOf(ExecExitError);
    expect(e).toMatchObject({ exitCode: 3, signal: null, stderr: 'no route to hook\n' });
    expect((e as Error).message).toMatch(
      /^exec sh -c .*: failed \(pid \d+ exited with code 3\); stderr: no route to hook/,
    );
  });

  it('bad: only the last 4 KiB of a long stderr is kept', async () => {
    const e = (await rejection(
      new Exec([
        'sh',
        '-c',
        'head -c 20000 /dev/zero | tr "\\0" a >&2; echo END >&2; exit 1',
      ]).deliver(validEvent()),
    )) as ExecExitError;
    expect(e).toBeInstanceOf(ExecExitError);
    expect(Buffer.byteLength(e.stderr)).toBe(4096);
    expect(e.stderr.endsWith('aaaEND\n')).toBe(true);
    expect(e.message.endsWith(e.stderr)).toBe(true);
  });

  it('bad: death by a signal (without a timeout) is an ExecExitError with the signal name', async () => {
    const e = await rejection(new Exec(['sh', '-c', 'kill -KILL $$']).deliver(validEvent()));
    expect(e).toBeInstanceOf(ExecExitError);
    expect(e).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('bad: a missing program rejects with the spawn ProcessError, ENOENT', async () => {
    const e = await rejection(new Exec(['/nonexistent/core-events-hook']).deliver(validEvent()));
    expect(e).toBeInstanceOf(ProcessError);
    expect(e).toMatchObject({ code: 'ENOENT' });
  });

  it('ugly: past its timeout the hook is stopped: ExecTimeoutError, and /proc/<pid> is gone', async () => {
    const dir = tempDir('core-events-exec-');
    const pidFile = path.join(dir, 'pid');
    const started = performance.now();
    const e = await rejection(
      new Exec(['sh', '-c', `echo $$ > '${pidFile}'; exec sleep 10`], { timeoutMs: 200 }).deliver(
        validEvent(),
      ),
    );
    const elapsed = performance.now() - started;
    expect(e).toBeInstanceOf(ExecTimeoutError);
    expect(e).toMatchObject({ timeoutMs: 200 });
    expect((e as Error).message).toMatch(/timed out after 200 ms.*killed by SIGTERM/);
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(5000);
    expect(alive(readPid(pidFile))).toBe(false);
  });

  it('ugly: a hook ignoring SIGTERM is SIGKILLed shortly after the timeout', async () => {
    const dir = tempDir('core-events-exec-');
    const pidFile = path.join(dir, 'pid');
    const started = performance.now();
    const e = await rejection(
      new Exec(['sh', '-c', `trap "" TERM; echo $$ > '${pidFile}'; while :; do sleep 0.05; done`], {
        timeoutMs: 200,
      }).deliver(validEvent()),
    );
    const elapsed = performance.now() - started;
    expect(e).toBeInstanceOf(ExecTimeoutError);
    expect((e as Error).message).toMatch(/killed by SIGKILL/);
    // Timeout plus the 100 ms grace; the upper bound is generous, not a timing assertion.
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(5000);
    expect(alive(readPid(pidFile))).toBe(false);
  });

  it('ugly: aborting stops the hook; an already aborted signal starts nothing', async () => {
    const dir = tempDir('core-events-exec-');
    const pidFile = path.join(dir, 'pid');
    const controller = new AbortController();
    const delivery = new Exec(['sh', '-c', `echo $$ > '${pidFile}'; exec sleep 10`]).deliver(
      validEvent(),
      controller.signal,
    );
    expect(await eventually(() => fs.existsSync(pidFile) && fs.statSync(pidFile).size > 0)).toBe(
      true,
    );
    controller.abort(new Error('shutting down'));
    const e = await rejection(delivery);
    expect(e).toBeInstanceOf(ExecExitError);
    expect(e).toMatchObject({ signal: 'SIGTERM', cause: new Error('shutting down') });
    expect(alive(readPid(pidFile))).toBe(false);

    const marker = path.join(dir, 'never');
    await expect(
      new Exec(['touch', marker]).deliver(validEvent(), AbortSignal.abort()),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(fs.existsSync(marker)).toBe(false);
  });
});
