// fork() and the IPC channel against node:child_process and ours: the child is a real Node
// process using process.send / process.on('message'), so our end must speak Node's format.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { collect, FIXTURES, IMPLS } from './impls.js';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

const ECHO = `${FIXTURES}echo-ipc.cjs`;

describe.each(IMPLS)('%s: fork and IPC', (_name, cp) => {
  it.each([
    'json',
    'advanced',
  ] as const)('round trip with serialization %s', async (serialization) => {
    // execArgv: [] because the test runner's own flags would otherwise be inherited.
    const child = cp.fork(ECHO, ['x', 'y'], { serialization, execArgv: [] });
    expect(child.connected).toBe(true);
    const reply = once(child, 'message');
    child.send({ n: 1, s: 'é', list: [1, 2] });
    const [m] = await reply;
    expect(m).toEqual({
      got: { n: 1, s: 'é', list: [1, 2] },
      channelEnvLeft: false,
      execArgv: [],
      argv: ['x', 'y'],
    });
    child.disconnect();
    expect(child.connected).toBe(false);
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });

  it("'advanced' carries Buffers, Maps, BigInts and Dates", async () => {
    const child = cp.fork(ECHO, [], { serialization: 'advanced' });
    const reply = once(child, 'message');
    const sent = { b: Buffer.from([1, 2, 3]), m: new Map([['k', 1n]]), d: new Date(5) };
    child.send(sent);
    const [m] = await reply;
    expect(Buffer.from(m.got.b)).toEqual(Buffer.from([1, 2, 3]));
    expect(m.got.m).toEqual(new Map([['k', 1n]]));
    expect(m.got.d).toEqual(new Date(5));
    child.kill();
    await once(child, 'exit');
  });

  it('many messages in one burst all arrive, in order', async () => {
    const child = cp.fork(ECHO);
    const got: number[] = [];
    const done = new Promise<void>((resolve) => {
      child.on('message', (m: { got: number }) => {
        got.push(m.got);
        if (got.length === 200) resolve();
      });
    });
    for (let i = 0; i < 200; i++) child.send(i);
    await done;
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    child.disconnect();
    await once(child, 'exit');
  });

  it("the child's process.disconnect() gives the parent 'disconnect' and connected false", async () => {
    const child = cp.fork(ECHO);
    const disc = once(child, 'disconnect');
    child.send('disconnect-me');
    await disc;
    expect(child.connected).toBe(false);
    await once(child, 'exit');
  });

  it('send() after disconnect fails with ERR_IPC_CHANNEL_CLOSED through the callback', async () => {
    const child = cp.fork(ECHO);
    child.disconnect();
    const err = await new Promise<Error & { code?: string }>((resolve) => {
      child.send('late', (e: Error | null) => resolve(e as Error));
    });
    expect(err.code).toBe('ERR_IPC_CHANNEL_CLOSED');
    await once(child, 'exit');
  });

  it("'message' from a child that speaks first; exit code and 'close' after", async () => {
    const child = cp.fork(`${FIXTURES}send-first.cjs`);
    const [m] = await once(child, 'message');
    expect(m).toEqual({ ready: true, pid: child.pid });
    const [code] = await once(child, 'close');
    expect(code).toBe(0);
  });

  it('silent: true pipes the child stdout; execArgv reaches the child', async () => {
    const c2 = cp.fork(ECHO, [], { silent: true, execArgv: ['--no-warnings'] });
    expect(c2.stdout).not.toBeNull();
    const reply = once(c2, 'message');
    c2.send('q');
    const [m] = await reply;
    expect(m.execArgv).toEqual(['--no-warnings']);
    c2.disconnect();
    expect(await collect(c2.stdout)).toBe('');
  });

  it('a message to a child that exits mid-way leaves no unhandled error', async () => {
    const child = cp.fork(ECHO);
    child.send('exit');
    const [code] = await once(child, 'exit');
    expect(code).toBe(7);
  });

  it('_channel is the very object channel is (the deprecated alias, gone in Node 26), not enumerable', async () => {
    const child = cp.fork(ECHO, [], { execArgv: [] }) as ReturnType<typeof cp.fork> & {
      _channel: unknown;
    };
    expect(child.channel).toBeTruthy();
    // DEP0129 reached end of life in Node 26: the alias is gone there.
    if (NODE_MAJOR >= 26) expect(child._channel).toBeUndefined();
    else expect(child._channel).toBe(child.channel);
    expect(Object.keys(child)).not.toContain('_channel');
    child.disconnect();
    await once(child, 'exit');
  });
});
