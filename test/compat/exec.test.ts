// exec/execFile and the sync variants against node:child_process and ours, same expectations.
import { once } from 'node:events';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { IMPLS, MISSING, nodeCp } from './impls.js';

type Done = { err: (Error & Record<string, unknown>) | null; stdout: unknown; stderr: unknown };

describe.each(IMPLS)('%s: exec and execFile', (_name, cp) => {
  const run = (fn: (cb: (...a: unknown[]) => void) => unknown): Promise<Done> =>
    new Promise((resolve) => {
      fn((err, stdout, stderr) => resolve({ err: err as Done['err'], stdout, stderr }));
    });

  it('exec runs a shell line and hands back strings', async () => {
    const r = await run((cb) => cp.exec('echo out; echo err >&2', cb));
    expect(r).toEqual({ err: null, stdout: 'out\n', stderr: 'err\n' });
  });

  it("a non-zero exit gives Node's error: message, code, killed, signal, cmd", async () => {
    const r = await run((cb) => cp.execFile('sh', ['-c', 'echo bad >&2; exit 4'], cb));
    expect(r.err?.message).toBe('Command failed: sh -c echo bad >&2; exit 4\nbad\n');
    expect(r.err).toMatchObject({
      code: 4,
      killed: false,
      signal: null,
      cmd: 'sh -c echo bad >&2; exit 4',
    });
    expect(r.stderr).toBe('bad\n');
  });

  it("encoding 'buffer' gives Buffers, another encoding decodes", async () => {
    const a = await run((cb) => cp.execFile('printf', ['\\303\\251'], { encoding: 'buffer' }, cb));
    expect(Buffer.isBuffer(a.stdout)).toBe(true);
    expect(a.stdout).toEqual(Buffer.from([0xc3, 0xa9]));
    const b = await run((cb) => cp.execFile('printf', ['\\303\\251'], { encoding: 'hex' }, cb));
    expect(b.stdout).toBe('c3a9');
  });

  it('maxBuffer: ERR_CHILD_PROCESS_STDIO_MAXBUFFER, output cut at the limit, child killed', async () => {
    const r = await run((cb) =>
      cp.execFile(
        'sh',
        ['-c', 'head -c 100000 /dev/zero | tr "\\0" x; sleep 5'],
        { maxBuffer: 1000 },
        cb,
      ),
    );
    expect(r.err?.code).toBe('ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
    expect(r.err?.message).toBe('stdout maxBuffer length exceeded');
    expect(r.err).toBeInstanceOf(RangeError);
    expect((r.stdout as string).length).toBe(1000);
  });

  it('timeout: killSignal is sent, the error says killed and the signal', async () => {
    const t0 = Date.now();
    const r = await run((cb) =>
      cp.execFile('sleep', ['10'], { timeout: 100, killSignal: 'SIGUSR2' }, cb),
    );
    expect(r.err).toMatchObject({ killed: true, signal: 'SIGUSR2', code: null, cmd: 'sleep 10' });
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  it('a missing program reaches the callback as the spawn error, with cmd', async () => {
    const r = await run((cb) => cp.execFile(MISSING, ['a'], cb));
    expect(r.err).toMatchObject({
      code: 'ENOENT',
      errno: -2,
      syscall: `spawn ${MISSING}`,
      cmd: `${MISSING} a`,
    });
    expect([r.stdout, r.stderr]).toEqual(['', '']);
  });

  it('util.promisify resolves { stdout, stderr } and exposes .child', async () => {
    const p = promisify(cp.execFile)('sh', ['-c', 'echo a; echo b >&2']) as Promise<unknown> & {
      child: { pid: number };
    };
    expect(typeof p.child.pid).toBe('number');
    expect(await p).toEqual({ stdout: 'a\n', stderr: 'b\n' });
    expect(await promisify(cp.exec)('echo c')).toEqual({ stdout: 'c\n', stderr: '' });
  });

  it('util.promisify rejects with stdout and stderr on the error', async () => {
    const e = await promisify(cp.exec)('echo partial; exit 2').catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 2, stdout: 'partial\n', stderr: '' });
  });

  it('execFile checks argv0 but does not pass it to the child, as Node does', async () => {
    const r = await run((cb) => cp.execFile('sh', ['-c', 'echo $0'], { argv0: 'zz' }, cb));
    expect(r.stdout).toBe('sh\n');
  });

  it('the returned ChildProcess still emits exit and close', async () => {
    const child = cp.execFile('true', () => {});
    const [code] = await once(child, 'close');
    expect(code).toBe(0);
  });

  it("a negative code on 'close' becomes the errno name: getSystemErrorName(code)", async () => {
    // What a failed spawn's 'close' reports (libuv's -errno), emitted by hand as Node's own
    // test-child-process-execfile does.
    const r = await run((cb) => {
      const child = cp.execFile('sleep', ['5'], cb) as import('node:events').EventEmitter & {
        kill(): boolean;
      };
      child.kill();
      child.emit('close', -1, null);
    });
    expect(r.err?.toString().trim()).toBe('Error: Command failed: sleep 5');
    expect(r.err).toMatchObject({ code: 'EPERM', killed: true, signal: null, cmd: 'sleep 5' });
  });
});

describe.each(IMPLS)('%s: spawnSync, execSync, execFileSync', (_name, cp) => {
  it("spawnSync returns Node's result object (keys in order)", () => {
    const r = cp.spawnSync('sh', ['-c', 'cat; echo e >&2; exit 5'], {
      input: 'in',
      encoding: 'utf8',
    });
    expect(Object.keys(r)).toEqual(['status', 'signal', 'output', 'pid', 'stdout', 'stderr']);
    expect(r).toMatchObject({
      status: 5,
      signal: null,
      output: [null, 'in', 'e\n'],
      stdout: 'in',
      stderr: 'e\n',
    });
    expect(r.pid).toBeGreaterThan(0);
  });

  it('spawnSync gives Buffers by default and input as a Uint8Array', () => {
    const r = cp.spawnSync('cat', { input: new Uint8Array([104, 105]) });
    expect(r.stdout).toEqual(Buffer.from('hi'));
  });

  it('spawnSync timeout: error ETIMEDOUT (spawnSync <file>), signal = killSignal', () => {
    const r = cp.spawnSync('sleep', ['10'], { timeout: 100, killSignal: 'SIGINT' });
    expect(r.error).toMatchObject({
      code: 'ETIMEDOUT',
      errno: -110,
      syscall: 'spawnSync sleep',
      path: 'sleep',
      spawnargs: ['10'],
    });
    expect(r.error?.message).toBe('spawnSync sleep ETIMEDOUT');
    expect([r.status, r.signal]).toEqual([null, 'SIGINT']);
  });

  it('spawnSync timeout applies with no pipes too', () => {
    const r = cp.spawnSync('sleep', ['10'], { timeout: 100, stdio: 'ignore' });
    expect(r.error).toMatchObject({ code: 'ETIMEDOUT' });
    expect(r.signal).toBe('SIGTERM');
  });

  it('spawnSync maxBuffer: error ENOBUFS and the child is killed', () => {
    const r = cp.spawnSync('sh', ['-c', 'head -c 300000 /dev/zero; sleep 10'], { maxBuffer: 100 });
    expect(r.error).toMatchObject({ code: 'ENOBUFS', syscall: 'spawnSync sh' });
    expect(r.signal).toBe('SIGTERM');
    expect((r.stdout as Buffer).length).toBeGreaterThan(100);
  });

  it("spawnSync of a missing program: error ENOENT, pid 0, output null, stdout as the running Node's", () => {
    const r = cp.spawnSync(MISSING, ['q']);
    expect(Object.keys(r)).toEqual([
      'error',
      'status',
      'signal',
      'output',
      'pid',
      'stdout',
      'stderr',
    ]);
    expect(r).toMatchObject({
      status: null,
      signal: null,
      output: null,
      pid: 0,
      // Node 20 says null, 22 onwards undefined: whatever the running line's own answer is.
      stdout: nodeCp.spawnSync(MISSING).stdout,
      stderr: nodeCp.spawnSync(MISSING).stderr,
    });
    expect(r.error).toMatchObject({
      code: 'ENOENT',
      errno: -2,
      path: MISSING,
      spawnargs: ['q'],
    });
  });

  it('execSync returns stdout and throws "Command failed" with status and output', () => {
    expect(cp.execSync('echo hi', { encoding: 'utf8' })).toBe('hi\n');
    let e: (Error & Record<string, unknown>) | undefined;
    try {
      cp.execSync('echo so; echo se >&2; exit 3', { stdio: 'pipe' });
    } catch (x) {
      e = x as typeof e;
    }
    expect(e?.message).toBe('Command failed: echo so; echo se >&2; exit 3\nse\n');
    expect(e).toMatchObject({
      status: 3,
      signal: null,
      stdout: Buffer.from('so\n'),
      stderr: Buffer.from('se\n'),
    });
  });

  it('execFileSync throws the spawn error for a missing program, with the result fields', () => {
    let e: (Error & Record<string, unknown>) | undefined;
    try {
      cp.execFileSync(MISSING);
    } catch (x) {
      e = x as typeof e;
    }
    expect(e?.message).toBe(`spawnSync ${MISSING} ENOENT`);
    expect(e).toMatchObject({ code: 'ENOENT', status: null, pid: 0 });
  });

  it('execFileSync with a timeout throws ETIMEDOUT carrying the signal', () => {
    let e: (Error & Record<string, unknown>) | undefined;
    try {
      cp.execFileSync('sleep', ['10'], { timeout: 100, stdio: 'pipe' });
    } catch (x) {
      e = x as typeof e;
    }
    expect(e).toMatchObject({ code: 'ETIMEDOUT', signal: 'SIGTERM', status: null });
  });

  it("spawnSync collects every 'pipe' entry, fd 3 and up too, into output[i]", () => {
    const r = cp.spawnSync('sh', ['-c', 'echo three >&3; echo five >&5; echo out'], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    expect(r.output).toEqual([null, 'out\n', '', 'three\n', null, 'five\n']);
  });

  it('spawnSync maxBuffer counts a pipe beyond fd 2 as well', () => {
    const r = cp.spawnSync('sh', ['-c', 'head -c 300000 /dev/zero >&3; sleep 10'], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      maxBuffer: 100,
    });
    expect(r.error).toMatchObject({ code: 'ENOBUFS' });
    expect(r.signal).toBe('SIGTERM');
    expect((r.output?.[3] as Buffer).length).toBeGreaterThan(100);
  });
});
