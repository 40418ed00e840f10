// systemd integration: the datagrams `supervise` sends to $NOTIFY_SOCKET, recorded by a fake
// socket (a python3 recorder: Node cannot bind unix datagram sockets), and the unit `startup`
// prints, parsed and checked by `systemd-analyze verify` where installed.
import cp from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { beforeAll, describe, it } from 'vitest';
import { eventually } from '../helpers.js';
import { Cli, compiledCli, type OnFinished } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

function has(tool: string): boolean {
  return cp.spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

const python = has('python3');
const analyze = has('systemd-analyze');
for (const [ok, tool, how] of [
  [python, 'python3', 'apt-get install python3'],
  [analyze, 'systemd-analyze', 'apt-get install systemd'],
] as const) {
  if (!ok) {
    console.log(`systemd.test.ts: ${tool} not found, its tests are skipped (${how})`);
    if (process.env.CI) throw new Error(`CI needs ${tool} for the systemd tests`);
  }
}

const RECORDER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print('"listening"', flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`;

/** A fake $NOTIFY_SOCKET in the test's directory; `got` fills with the datagrams received. */
async function recorder(
  t: Cli,
  onTestFinished: OnFinished,
): Promise<{ socket: string; got: string[] }> {
  const socket = path.join(t.dir, 'notify.sock');
  const child = cp.spawn('python3', ['-c', RECORDER, socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  const got: string[] = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => got.push(JSON.parse(l)));
  if (!(await eventually(() => got[0] === 'listening', 10_000))) {
    throw new Error('the python3 datagram recorder did not start');
  }
  return { socket, got };
}

describe('systemd', { timeout: 60_000 }, () => {
  it.skipIf(!python)(
    'good: supervise sends READY=1, STATUS=, WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1',
    async ({ expect, onTestFinished }) => {
      const t = new Cli(bin, onTestFinished);
      const { socket, got } = await recorder(t, onTestFinished);
      const sup = t.start(['supervise', '--name', 'web', '--', 'sleep', '30'], {
        env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '200000' },
      });
      await sup.waitFor('stderr', /started pid (\d+)/);
      expect(await eventually(() => got.includes('WATCHDOG=1'), 10_000)).toBe(true);
      sup.child.kill('SIGTERM');
      expect((await sup.done).code).toBe(0);
      expect(await eventually(() => got.includes('STOPPING=1'), 10_000)).toBe(true);
      console.log(`datagrams recorded: ${JSON.stringify(got.slice(1))}`);
      const ready = got.findIndex((d) => d.startsWith('READY=1\n'));
      expect(got[ready]).toMatch(/^READY=1\nSTATUS=web ● running · pid \d+/);
      const pid = /started pid (\d+)/.exec(sup.stderr)?.[1];
      expect(got).toContain(`STATUS=web: started pid ${pid}`);
      expect(got.indexOf('WATCHDOG=1')).toBeGreaterThan(ready);
      expect(got.indexOf('STOPPING=1')).toBeGreaterThan(got.indexOf('WATCHDOG=1'));
    },
  );

  it.skipIf(!python)(
    'good: serve sends READY=1 with the API address once it listens, WATCHDOG=1, and STOPPING=1 on SIGTERM',
    async ({ expect, onTestFinished }) => {
      const t = new Cli(bin, onTestFinished);
      const { socket, got } = await recorder(t, onTestFinished);
      const host = t.start(['serve', '--port', '0', '--token', 'systemd-test-token-0123456789'], {
        env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '200000' },
      });
      const url = (await host.waitFor('stderr', /API on (http:\/\/\S+\/api\/process)/))[1];
      expect(await eventually(() => got.includes('WATCHDOG=1'), 10_000)).toBe(true);
      host.child.kill('SIGTERM');
      expect((await host.done).code).toBe(0);
      expect(await eventually(() => got.includes('STOPPING=1'), 10_000)).toBe(true);
      console.log(`serve datagrams recorded: ${JSON.stringify(got.slice(1))}`);
      const ready = got.findIndex((d) => d.startsWith('READY=1\n'));
      expect(got[ready]).toBe(`READY=1\nSTATUS=API on ${url}`);
      expect(got.indexOf('WATCHDOG=1')).toBeGreaterThan(ready);
      expect(got.lastIndexOf('STOPPING=1')).toBeGreaterThan(got.indexOf('WATCHDOG=1'));
    },
  );

  it('good: without NOTIFY_SOCKET nothing is sent and supervise runs as before', async ({
    expect,
    onTestFinished,
  }) => {
    const t = new Cli(bin, onTestFinished);
    const sup = t.start(['supervise', '--', 'sleep', '30'], { env: { NOTIFY_SOCKET: '' } });
    await sup.waitFor('stderr', /started pid (\d+)/);
    sup.child.kill('SIGTERM');
    const r = await sup.done;
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('sd_notify');
  });

  it('good: startup prints a Type=notify, KillMode=control-group unit that carries the flags over', async ({
    expect,
    onTestFinished,
  }) => {
    const t = new Cli(bin, onTestFinished);
    const r = await t.run([
      'startup',
      '--user',
      '--',
      '--restart',
      'always',
      '--cpus',
      '0',
      '--nice',
      '5',
      '--name',
      'web',
      '--',
      'sh',
      '-c',
      'echo $HOME 100%',
    ]);
    expect(r.code).toBe(0);
    const unit = r.stdout;
    const sections = new Map<string, Map<string, string>>();
    let current = new Map<string, string>();
    for (const line of unit.split('\n')) {
      const section = /^\[(\w+)\]$/.exec(line);
      if (section) {
        current = new Map();
        sections.set(section[1] as string, current);
      } else if (line.includes('=')) {
        current.set(line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1));
      }
    }
    const service = sections.get('Service');
    expect(Object.fromEntries(service ?? [])).toMatchObject({
      Type: 'notify',
      KillMode: 'control-group',
      Restart: 'on-failure',
      Delegate: 'yes',
    });
    expect(service?.get('ExecStart')).toBe(
      `${process.execPath} ${bin} supervise --restart always --cpus 0 --nice 5 --name web -- sh -c "echo $$HOME 100%%"`,
    );
    expect(sections.get('Install')?.get('WantedBy')).toBe('default.target');
    if (analyze) {
      const file = path.join(t.dir, 'core-process-web.service');
      fs.writeFileSync(file, unit);
      const v = cp.spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
      expect({ status: v.status, stderr: v.stderr }).toEqual({ status: 0, stderr: '' });
    }
  });
});
