// `core-process daemons`: over a registry of its own per test (XDG_STATE_HOME), filled by real
// `core-process supervise` processes; what `stop` did is read from /proc, what `health` asked
// is answered by an HTTP server in this test.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { eventually } from '../helpers.js';
import { Cli, type CliProcess, compiledCli, dead, type OnFinished } from './cli.js';

let bin: string;
let server: http.Server;
let base: string;
beforeAll(async () => {
  // GET /status/<n> answers n.
  server = http.createServer((req, res) => {
    res.statusCode = Number(/^\/status\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 404);
    res.end(`answer ${res.statusCode}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  bin = await compiledCli();
}, 120_000);
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);

/** A supervisor of `sleep 30` named `name`; resolves once its child has started. */
async function supervisor(
  t: Cli,
  name: string,
  extra: string[] = [],
): Promise<{ p: CliProcess; child: number }> {
  const p = t.start(['supervise', '--name', name, ...extra, '--', 'sleep', '30']);
  const child = Number((await p.waitFor('stderr', /started pid (\d+)/))[1]);
  t.reap(child);
  return { p, child };
}

// Concurrent: the tests mostly wait on processes; the bound allows for a loaded machine.
describe.concurrent('core-process daemons', { timeout: 60_000 }, () => {
  it('good: list with nothing registered says so (and is the default command)', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const [plain, json] = await Promise.all([
      t.run(['daemons']),
      t.run(['daemons', 'list', '--json']),
    ]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toBe('no daemons running\n');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([]);
  });

  it('good: stop NAME stops a running supervisor and its child, and unregisters it', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    const { p, child } = await supervisor(t, 'web');
    const listed = await t.run(['daemons', 'list']);
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+PID\s+UP\s+HEALTH\s+BINARY$/);
    expect(listed.stdout).toMatch(
      new RegExp(`^default/web\\s+${p.pid}\\s+\\d+s\\s+-\\s+sleep$`, 'm'),
    );

    const r = await t.run(['daemons', 'stop', 'web']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`stopped default/web (pid ${p.pid})\n`);
    expect(dead(p.pid)).toBe(true);
    expect((await p.done).code).toBe(0);
    expect(await eventually(() => dead(child))).toBe(true);
    const after = await t.run(['daemons', 'list', '--json']);
    expect(JSON.parse(after.stdout)).toEqual([]);
  });

  it('bad: stop of a name nobody registered exits 2 naming it', async ({
    expect,
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(['daemons', 'stop', 'ghost']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no running daemon named "ghost"/);
  });

  it('good: health of a daemon whose endpoint answers 200 exits 0 and prints HTTP 200', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    await supervisor(t, 'up', ['--health', `${base}/status/200`, '--health-interval', '1h']);
    const r = await t.run(['daemons', 'health', 'up']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('default/up: HTTP 200 answer 200\n');
  });

  it('bad: health of a daemon whose endpoint answers 503 exits 1 and prints HTTP 503', async ({
    expect,
    onTestFinished,
  }) => {
    const t = cli(onTestFinished);
    await supervisor(t, 'down', ['--health', `${base}/status/503`, '--health-interval', '1h']);
    const r = await t.run(['daemons', 'health', 'down']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('default/down: HTTP 503 answer 503\n');
  });
});
