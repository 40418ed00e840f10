// Events, fields and error shapes of spawn(), each case run against node:child_process and
// ours with the same expectations.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { collect, IMPLS, MISSING, recordEvents } from './impls.js';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

describe.each(IMPLS)('%s: spawn events and fields', (_name, cp) => {
  it('emits spawn, exit, close in that order with the exit code, after the output', async () => {
    const child = cp.spawn('sh', ['-c', 'echo out; exit 3']);
    const out = collect(child.stdout);
    const events = await recordEvents(child);
    expect(events).toEqual(['spawn', ['exit', 3, null], ['close', 3, null]]);
    expect(await out).toBe('out\n');
    expect(child.exitCode).toBe(3);
    expect(child.signalCode).toBeNull();
    expect(typeof child.pid).toBe('number');
  });

  it('gives a real pid: /proc/<pid>/cmdline is the program and its arguments', async () => {
    const child = cp.spawn('sleep', ['7.5']);
    // The kernel releases a vfork-style parent before the new image's argv is mapped, so
    // cmdline can read empty for a moment right after spawn returns.
    let cmdline: string[] = [''];
    for (let i = 0; i < 100 && cmdline[0] === ''; i++) {
      cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      if (cmdline[0] === '') await new Promise((r) => setTimeout(r, 10));
    }
    expect(cmdline.slice(0, 2)).toEqual(['sleep', '7.5']);
    child.kill('SIGKILL');
    const [code, signal] = await once(child, 'exit');
    expect([code, signal]).toEqual([null, 'SIGKILL']);
    expect(child.killed).toBe(true);
  });

  it('reports ENOENT as an async error with Node fields, pid undefined, then close(-2)', async () => {
    const child = cp.spawn(MISSING, ['a', 'b']);
    expect(child.pid).toBeUndefined();
    let sync = true;
    const errP = once(child, 'error').then(([e]) => ({ e, sync }));
    sync = false;
    const events = recordEvents(child);
    const { e, sync: wasSync } = await errP;
    expect(wasSync).toBe(false);
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe(`spawn ${MISSING} ENOENT`);
    expect({ ...e }).toEqual({
      errno: -2,
      code: 'ENOENT',
      syscall: `spawn ${MISSING}`,
      path: MISSING,
      spawnargs: ['a', 'b'],
    });
    expect(await events).toEqual([
      ['error', 'ENOENT'],
      ['close', -2, null],
    ]);
    expect(child.exitCode).toBe(-2);
    expect(child.stdout).not.toBeNull();
  });

  it('reports a missing cwd as ENOENT through error, not a throw', async () => {
    const child = cp.spawn('true', [], { cwd: '/no/such/dir' });
    const [e] = await once(child, 'error');
    expect(e.code).toBe('ENOENT');
    expect(e.syscall).toBe('spawn true');
  });

  it('reports a signal death as exit(null, signal) and sets signalCode', async () => {
    const child = cp.spawn('sh', ['-c', 'kill -USR1 $$']);
    const events = await recordEvents(child);
    expect(events.slice(1)).toEqual([
      ['exit', null, 'SIGUSR1'],
      ['close', null, 'SIGUSR1'],
    ]);
    expect(child.signalCode).toBe('SIGUSR1');
    expect(child.exitCode).toBeNull();
    expect(child.killed).toBe(false);
  });

  it('kill() accepts names and numbers, sets killed, and returns false after exit', async () => {
    const child = cp.spawn('sleep', ['10']);
    expect(child.kill(0)).toBe(true);
    expect(child.killed).toBe(true);
    expect(() => child.kill('SIGNOPE' as NodeJS.Signals)).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_SIGNAL' }),
    );
    expect(child.kill(15)).toBe(true);
    const [code, signal] = await once(child, 'exit');
    expect([code, signal]).toEqual([null, 'SIGTERM']);
    expect(child.kill()).toBe(false);
  });

  it('signal names are accepted in any case; 0 is not a killSignal', async () => {
    expect(() => cp.spawn('true', [], { killSignal: 0 as never })).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_SIGNAL' }),
    );
    expect(() => cp.spawn('true', [], { killSignal: true as never })).toThrow(
      'The "options.killSignal" property must be one of type string or number. Received type boolean (true)',
    );
    const child = cp.spawn('sleep', ['10'], { timeout: 30, killSignal: 'sigusr2' as never });
    const [, signal] = await once(child, 'exit');
    expect(signal).toBe('SIGUSR2');
    const other = cp.spawn('sleep', ['10']);
    expect(other.kill('sighup' as never)).toBe(true);
    expect((await once(other, 'exit'))[1]).toBe('SIGHUP');
  });

  it('sends killSignal at the timeout option and marks the child killed', async () => {
    const child = cp.spawn('sleep', ['10'], { timeout: 50, killSignal: 'SIGINT' });
    const [code, signal] = await once(child, 'exit');
    expect([code, signal]).toEqual([null, 'SIGINT']);
    expect(child.killed).toBe(true);
  });

  it('an AbortSignal kills with killSignal and emits an AbortError', async () => {
    const ac = new AbortController();
    const child = cp.spawn('sleep', ['10'], { signal: ac.signal, killSignal: 'SIGKILL' });
    const errP = once(child, 'error');
    // once() rejects on 'error', so the exit is awaited by hand.
    const exitP = new Promise<unknown[]>((r) => child.on('exit', (...a) => r(a)));
    ac.abort();
    const [e] = await errP;
    expect(e.name).toBe('AbortError');
    expect(e.code).toBe('ABORT_ERR');
    const [, signal] = await exitP;
    expect(signal).toBe('SIGKILL');
  });

  it('an already aborted signal kills on the next tick', async () => {
    const child = cp.spawn('sleep', ['10'], { signal: AbortSignal.abort() });
    const [e] = await once(child, 'error');
    expect(e.name).toBe('AbortError');
  });

  it('spawnfile and spawnargs follow shell and argv0', () => {
    const a = cp.spawn('echo', ['x y'], { argv0: 'zz', stdio: 'ignore' });
    expect([a.spawnfile, a.spawnargs]).toEqual(['echo', ['zz', 'x y']]);
    const b = cp.spawn('echo', ['a b'], { shell: true, stdio: 'ignore' });
    expect([b.spawnfile, b.spawnargs]).toEqual(['/bin/sh', ['/bin/sh', '-c', 'echo a b']]);
  });

  it('disposing kills a running child (Symbol.dispose)', async () => {
    const child = cp.spawn('sleep', ['10']);
    const exit = once(child, 'exit');
    (child as unknown as { [Symbol.dispose](): void })[Symbol.dispose]();
    const [, signal] = await exit;
    expect(signal).toBe('SIGTERM');
  });

  it("'close' waits for a grandchild holding stdout open; 'exit' does not", async () => {
    const child = cp.spawn('sh', ['-c', '(sleep 0.3; echo late) & exit 0']);
    const out = collect(child.stdout);
    const t0 = Date.now();
    await once(child, 'exit');
    const exitAt = Date.now() - t0;
    await once(child, 'close');
    expect(await out).toBe('late\n');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(exitAt).toBeLessThan(Date.now() - t0);
  });

  it('stdin is a writable pipe the child reads to EOF', async () => {
    const child = cp.spawn('cat');
    const out = collect(child.stdout);
    child.stdin?.end('through cat');
    await once(child, 'close');
    expect(await out).toBe('through cat');
  });
});

describe.each(IMPLS)('%s: argument errors thrown synchronously', (_name, cp) => {
  const cases: [string, () => unknown, string, 'TypeError' | 'RangeError' | 'Error'][] = [
    [
      'file not a string',
      () => cp.spawn(1 as unknown as string),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    ['empty file', () => cp.spawn(''), 'ERR_INVALID_ARG_VALUE', 'TypeError'],
    ['NUL in file', () => cp.spawn('ls\0'), 'ERR_INVALID_ARG_VALUE', 'TypeError'],
    [
      'args a number',
      () => cp.spawn('ls', 5 as unknown as string[]),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    ['NUL in an argument', () => cp.spawn('ls', ['a\0']), 'ERR_INVALID_ARG_VALUE', 'TypeError'],
    [
      'options a string',
      () => cp.spawn('ls', [], 'x' as never),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    [
      'cwd a number',
      () => cp.spawn('ls', [], { cwd: 1 as never }),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    [
      'stdio unknown string',
      () => cp.spawn('ls', [], { stdio: 'bad' as never }),
      'ERR_INVALID_ARG_VALUE',
      'TypeError',
    ],
    [
      'stdio element an object',
      () => cp.spawn('ls', [], { stdio: ['pipe', {} as never] }),
      'ERR_INVALID_ARG_VALUE',
      'TypeError',
    ],
    [
      'two ipc',
      () => cp.spawn('ls', [], { stdio: ['ipc', 'ipc'] as never }),
      'ERR_IPC_ONE_PIPE',
      'Error',
    ],
    // Node 26 checks uid with validateInt32: a non-integer is out of range, not of a wrong type.
    NODE_MAJOR >= 26
      ? ['uid not int32', () => cp.spawn('ls', [], { uid: 1.5 }), 'ERR_OUT_OF_RANGE', 'RangeError']
      : [
          'uid not int32',
          () => cp.spawn('ls', [], { uid: 1.5 }),
          'ERR_INVALID_ARG_TYPE',
          'TypeError',
        ],
    [
      'gid not int32',
      () => cp.spawn('ls', [], { gid: 'x' as never }),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    [
      'detached not boolean',
      () => cp.spawn('ls', [], { detached: 1 as never }),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    [
      'shell a number',
      () => cp.spawn('ls', [], { shell: 1 as never }),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    [
      'argv0 a number',
      () => cp.spawn('ls', [], { argv0: 1 as never }),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    [
      'unknown killSignal',
      () => cp.spawn('ls', [], { killSignal: 'NOPE' as never }),
      'ERR_UNKNOWN_SIGNAL',
      'TypeError',
    ],
    [
      'negative timeout',
      () => cp.spawn('ls', [], { timeout: -1 }),
      'ERR_OUT_OF_RANGE',
      'RangeError',
    ],
    [
      'signal not an AbortSignal',
      () => cp.spawn('ls', [], { signal: 1 as never }),
      'ERR_INVALID_ARG_TYPE',
      'TypeError',
    ],
    [
      'bad serialization',
      () => cp.spawn('ls', [], { serialization: 'x' as never }),
      'ERR_INVALID_ARG_VALUE',
      'TypeError',
    ],
    [
      'NUL in an env value',
      () => cp.spawn('ls', [], { env: { A: 'x\0' } }),
      'ERR_INVALID_ARG_VALUE',
      'TypeError',
    ],
    [
      'maxBuffer negative',
      () => cp.execFile('ls', { maxBuffer: -1 }),
      'ERR_OUT_OF_RANGE',
      'RangeError',
    ],
    ['exec command not a string', () => cp.exec(1 as never), 'ERR_INVALID_ARG_TYPE', 'TypeError'],
    [
      'fork stdio without ipc',
      () => cp.fork('x.js', [], { stdio: ['pipe', 'pipe', 'pipe'] }),
      'ERR_CHILD_PROCESS_IPC_REQUIRED',
      'Error',
    ],
    [
      'spawnSync with ipc',
      () => cp.spawnSync('ls', [], { stdio: ['ipc'] as never }),
      'ERR_IPC_SYNC_FORK',
      'Error',
    ],
  ];
  it.each(cases)('%s', (_what, call, code, cls) => {
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as { code: string }).code).toBe(code);
    expect((thrown as Error).name).toBe(cls);
  });

  it('words the message as Node does', () => {
    expect(() => cp.spawn('')).toThrow("The argument 'file' cannot be empty. Received ''");
    expect(() => cp.spawn('ls', [], { cwd: 1 as never })).toThrow(
      'The "options.cwd" property must be of type string or an instance of Buffer or URL. Received type number (1)',
    );
    expect(() => cp.spawn('ls', [], { stdio: 'bad' as never })).toThrow(
      "The argument 'stdio' is invalid. Received 'bad'",
    );
  });
});
