// Handle passing over the IPC channel (issue 26), against node:child_process and ours: the
// child is a plain Node process (process.on('message', (m, handle)), process.send(m, handle)),
// so each row is an interop check of our end of Node's NODE_HANDLE protocol in both
// directions. Everything is proven with real listeners, real connections and real bytes.

import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { childEnv, compiledLib } from '../subprocess.js';
import { FIXTURES, IMPLS } from './impls.js';

const CHILD = `${FIXTURES}handle-child.cjs`;

// Our facade compiled to JS, for the processes (relay, -e programs) that load it themselves.
let facade = '';
beforeAll(async () => {
  const lib = path.dirname(fileURLToPath(await compiledLib()));
  facade = path.join(lib, 'child_process', 'index.js');
}, 180_000);

type Child = ReturnType<(typeof IMPLS)[0][1]['fork']>;

function nextMessage(child: Child): Promise<[Record<string, unknown>, unknown]> {
  return once(child, 'message') as Promise<[Record<string, unknown>, unknown]>;
}

/** Everything a client connection reads until the peer ends it. */
function readAll(socket: net.Socket): Promise<string> {
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    text += d;
  });
  return once(socket, 'end').then(() => text);
}

async function listening(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function stop(child: Child): Promise<void> {
  const exited = once(child, 'exit');
  child.kill();
  await exited;
}

describe.each(IMPLS)('%s: handles over IPC', (_name, cp) => {
  it.each([
    'json',
    'advanced',
  ] as const)('a net.Server sent to the child accepts connections there (%s)', async (serialization) => {
    const child = cp.fork(CHILD, [], { execArgv: [], serialization });
    const server = net.createServer((c) => c.end('parent\n'));
    const port = await listening(server);
    const sent = new Promise<Error | null>((resolve) => {
      child.send('server', server, (err: Error | null) => resolve(err));
    });
    const [reply] = await nextMessage(child);
    expect(await sent).toBeNull();
    expect(reply).toEqual({ got: 'server', kind: 'Server', listening: true });
    // Only the child's copy is left listening: the connection can only be answered there.
    server.close();
    for (let i = 0; i < 2; i++) {
      const text = await readAll(net.connect(port, '127.0.0.1'));
      expect(text).toBe(`child:${child.pid}\n`);
    }
    await stop(child);
  });

  it.each([
    false,
    true,
  ])('a net.Socket sent with keepOpen %s: the child writes on the connection', async (keepOpen) => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    const server = net.createServer();
    const port = await listening(server);
    const client = net.connect(port, '127.0.0.1');
    const text = readAll(client);
    const [conn] = (await once(server, 'connection')) as [net.Socket];
    child.send('socket', conn, { keepOpen });
    const [reply] = await nextMessage(child);
    expect(reply).toEqual({ got: 'socket', kind: 'Socket' });
    if (keepOpen) {
      // Our copy stayed open: the connection lives on after the child dropped its copy.
      conn.end('parent\n');
      expect(await text).toBe(`child:${child.pid}\nparent\n`);
    } else {
      // Ours was closed once the child acknowledged: the end arrives once the child drops its
      // copy, with nothing from us.
      expect(await text).toBe(`child:${child.pid}\n`);
    }
    server.close();
    await stop(child);
  });

  it('a dgram.Socket sent to the child receives and answers datagrams there', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    const udp = dgram.createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const { port } = udp.address();
    child.send('dgram', udp);
    const [reply] = await nextMessage(child);
    expect(reply).toEqual({ got: 'dgram', kind: 'Socket', type: 'udp4' });
    udp.close();
    const client = dgram.createSocket('udp4');
    const answer = once(client, 'message') as Promise<[Buffer]>;
    client.send('ping', port, '127.0.0.1');
    const [data] = await answer;
    expect(String(data)).toBe(`child:${child.pid}:ping`);
    client.close();
    await stop(child);
  });

  it('messages sent while a handle is in flight wait for its ACK and keep their order', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    const server = net.createServer();
    await listening(server);
    const got: unknown[] = [];
    const all = new Promise<void>((resolve) => {
      child.on('message', (m: { got: unknown }) => {
        got.push(m.got);
        if (got.length === 5) resolve();
      });
    });
    child.send(1);
    child.send('server', server);
    child.send(2);
    child.send({ three: 3 });
    child.send(4);
    await all;
    expect(got).toEqual([1, 'server', 2, { three: 3 }, 4]);
    server.close();
    await stop(child);
  });

  it('callbacks of sends queued behind a handle run, in order, once each is written', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [], serialization: 'advanced' });
    const server = net.createServer();
    await listening(server);
    const order: string[] = [];
    const sent = (name: string) =>
      new Promise<void>((resolve, reject) => {
        const cb = (err: Error | null) => (err ? reject(err) : resolve(void order.push(name)));
        if (name === 'server') child.send(name, server, cb);
        else child.send(name, cb);
      });
    await Promise.all(['a', 'server', 'b', 'c'].map(sent));
    expect(order).toEqual(['a', 'server', 'b', 'c']);
    server.close();
    await stop(child);
  });

  it('disconnect() right after sending a handle still delivers it first', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    const server = net.createServer((c) => c.end('parent\n'));
    const port = await listening(server);
    child.send('server', server);
    child.disconnect();
    expect(child.connected).toBe(false);
    await once(child, 'disconnect');
    server.close();
    // The child got the server before the channel closed: it answers the connection.
    const text = await readAll(net.connect(port, '127.0.0.1'));
    expect(text).toBe(`child:${child.pid}\n`);
    await stop(child);
  });

  it('a net.Server sent by the child arrives as a listening net.Server here', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    child.send({ op: 'send-server' });
    const [m, server] = await nextMessage(child);
    expect(m.got).toBe('server-from-child');
    expect(server).toBeInstanceOf(net.Server);
    const s = server as net.Server;
    expect(s.listening).toBe(true);
    s.on('connection', (c) => c.end(`parent:${process.pid}\n`));
    const text = await readAll(net.connect(m.port as number, '127.0.0.1'));
    expect(text).toBe(`parent:${process.pid}\n`);
    s.close();
    await stop(child);
  });

  it("a child's connected net.Socket arrives here and carries our bytes", async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    const server = net.createServer();
    const port = await listening(server);
    child.send({ op: 'send-socket', port });
    const [[m, socket], [conn]] = (await Promise.all([
      nextMessage(child),
      once(server, 'connection'),
    ])) as [[Record<string, unknown>, net.Socket], [net.Socket]];
    expect(m.got).toBe('socket-from-child');
    expect(socket).toBeInstanceOf(net.Socket);
    const text = readAll(conn);
    socket.end(`parent:${process.pid}\n`);
    expect(await text).toBe(`parent:${process.pid}\n`);
    server.close();
    await stop(child);
  });

  it("a child's dgram.Socket arrives here bound to the child's port", async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    child.send({ op: 'send-dgram' });
    const [m, socket] = await nextMessage(child);
    const udp = socket as dgram.Socket;
    expect(udp).toBeInstanceOf(dgram.Socket);
    expect(udp.address().port).toBe(m.port);
    const got = once(udp, 'message') as Promise<[Buffer]>;
    const client = dgram.createSocket('udp4');
    client.send('to-parent', m.port as number, '127.0.0.1');
    const [data] = await got;
    expect(String(data)).toBe('to-parent');
    client.close();
    udp.close();
    await stop(child);
  });

  it('server.getConnections() counts a connection held by the child it was sent to', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    const server = net.createServer();
    const port = await listening(server);
    const client = net.connect(port, '127.0.0.1');
    const [conn] = (await once(server, 'connection')) as [net.Socket];
    const count = () =>
      new Promise<number>((resolve, reject) => {
        server.getConnections((err, n) => (err ? reject(err) : resolve(n)));
      });
    expect(await count()).toBe(1);
    child.send('hold-socket', conn);
    const [reply] = await nextMessage(child);
    expect(reply).toEqual({ got: 'hold-socket', kind: 'Socket' });
    // Our copy is gone; the child's is the one counted.
    expect(await count()).toBe(1);
    client.destroy();
    // The child sees the close when its loop gets to it: ask until it has (bounded, loaded hosts).
    let n = 1;
    for (const deadline = Date.now() + 20_000; n !== 0 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 25));
      n = await count();
    }
    expect(n).toBe(0);
    // close() now waits for the child to report its connections closed, then completes.
    await new Promise<void>((resolve, reject) =>
      server.close((err) => (err ? reject(err) : resolve())),
    );
    await stop(child);
  }, 60_000);

  it("the child's server.getConnections() counts a connection it sent here", async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    child.send({ op: 'serve-and-pass' });
    const [serving] = await nextMessage(child);
    const client = net.connect(serving.port as number, '127.0.0.1');
    const [m, socket] = await nextMessage(child);
    expect(m).toEqual({ got: 'connection' });
    expect(socket).toBeInstanceOf(net.Socket);
    child.send('count');
    expect((await nextMessage(child))[0]).toEqual({ count: 1 });
    const closed = once(client, 'close');
    (socket as net.Socket).destroy();
    await closed;
    child.send('count');
    expect((await nextMessage(child))[0]).toEqual({ count: 0 });
    await stop(child);
  });

  it('a NODE_HANDLE that arrives without its descriptor is answered with NODE_HANDLE_NACK', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    const seen: unknown[] = [];
    child.on('message', (m: unknown, h: unknown) => seen.push([m, h]));
    child.send('lost-handle');
    await new Promise<void>((resolve) => {
      child.on('message', (m: { got?: string }) => m.got === 'nack' && resolve());
    });
    expect(seen).toEqual([[{ got: 'nack' }, undefined]]);
    await stop(child);
  });

  it('an object that is not a handle throws ERR_INVALID_HANDLE_TYPE', async () => {
    const child = cp.fork(CHILD, [], { execArgv: [] });
    expect(() => child.send('x', {} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_HANDLE_TYPE', name: 'TypeError' }),
    );
    await stop(child);
  });
});

// The interop matrix: every pairing of node:child_process and ours on the two IPC hops of
// parent -> relay -> grandchild, a server passed down the chain and another passed up.
describe('handles across a chain of mixed implementations', () => {
  const pairs = IMPLS.flatMap(([parent, cp]) =>
    ['node', 'core'].map((relay) => [parent, relay, cp] as const),
  );
  it.each(
    pairs,
  )('parent %s, relay %s: servers pass down and up the chain', async (_p, relay, cp) => {
    const relayCp = relay === 'node' ? 'node:child_process' : facade;
    const child = cp.fork(`${FIXTURES}handle-relay.mjs`, [], {
      execArgv: [],
      env: childEnv({ RELAY_CP: relayCp }),
    });
    // Down: our server reaches the grandchild through the relay, which accepts there.
    const server = net.createServer((c) => c.end('parent\n'));
    const port = await listening(server);
    child.send('server', server);
    const [down] = await nextMessage(child);
    expect(down).toMatchObject({ got: 'server', kind: 'Server', listening: true, via: child.pid });
    server.close();
    const text = await readAll(net.connect(port, '127.0.0.1'));
    expect(text).toBe(`child:${down.from}\n`);
    // Up: the grandchild's server reaches us through the relay.
    child.send({ op: 'send-server' });
    const [up, upServer] = await nextMessage(child);
    expect(up).toMatchObject({ got: 'server-from-child', via: child.pid, from: down.from });
    expect(upServer).toBeInstanceOf(net.Server);
    (upServer as net.Server).on('connection', (c) => c.end('top\n'));
    expect(await readAll(net.connect(up.port as number, '127.0.0.1'))).toBe('top\n');
    (upServer as net.Server).close();
    child.disconnect();
    await once(child, 'exit');
  });
});

describe('the IPC pipe lookup under --pending-deprecation', () => {
  // A fork and one round trip, then (with `userCall`) the program's own process.binding().
  const run = (module: string, userCall: boolean) =>
    spawnSync(
      process.execPath,
      [
        '--pending-deprecation',
        '--input-type=module',
        '-e',
        `const { fork } = await import(${JSON.stringify(module)});
const child = fork(${JSON.stringify(`${FIXTURES}echo-ipc.cjs`)}, [], { execArgv: [] });
child.send('x');
child.on('message', () => { child.disconnect(); if (${userCall}) process.binding('util'); });`,
      ],
      { encoding: 'utf8', env: childEnv() },
    );

  it.each([
    'node',
    'core',
  ])('%s: fork shows no DEP0111 of its own; the program still gets its own', (impl) => {
    const module = impl === 'node' ? 'node:child_process' : facade;
    const quiet = run(module, false);
    expect(quiet.status).toBe(0);
    expect(quiet.stderr).not.toContain('DEP0111');
    const own = run(module, true);
    expect(own.status).toBe(0);
    expect(own.stderr.match(/DEP0111/g)).toHaveLength(1);
  });
});

describe('under the permission model (process.binding() denied)', () => {
  it('core: messages still flow; a handle fails with ERR_CORE_PROCESS_IPC_HANDLE', () => {
    const flag = process.allowedNodeEnvironmentFlags.has('--permission')
      ? '--permission'
      : '--experimental-permission';
    const r = spawnSync(
      process.execPath,
      [
        flag,
        '--allow-fs-read=*',
        '--allow-child-process',
        '--allow-addons',
        // Node 26 guards sockets too; opening the channel's fd needs it.
        ...(process.allowedNodeEnvironmentFlags.has('--allow-net') ? ['--allow-net'] : []),
        '--no-warnings',
        '--input-type=module',
        '-e',
        `import net from 'node:net';
const { fork } = await import(${JSON.stringify(facade)});
let denied = false;
try { process.binding('pipe_wrap'); } catch (e) { denied = e.code === 'ERR_ACCESS_DENIED'; }
const child = fork(${JSON.stringify(`${FIXTURES}echo-ipc.cjs`)}, [], { execArgv: [] });
child.send('x', (err) => {
  child.send('y', net.createServer(), (herr) => {
    child.once('message', (m) => {
      console.log(JSON.stringify({ denied, err, m: m.got, herr: herr?.code }));
      child.disconnect();
    });
  });
});`,
      ],
      { encoding: 'utf8', env: childEnv() },
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      denied: true,
      err: null,
      m: 'x',
      herr: 'ERR_CORE_PROCESS_IPC_HANDLE',
    });
    expect(r.status).toBe(0);
  });
});
