// `core-process supervise` runs its child in a PID namespace under our init by default (issue
// 29): kill -9 of the supervisor takes the whole tree, background and setsid members included,
// at once and with no restart. With --adopt the tree must outlive the supervisor, so it stays
// in ours. Facts from /proc: command lines carrying a unique token, and ns/pid links.
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import { beforeAll, describe, it } from 'vitest';
import { pidNamespaceUnavailable } from '../../lib/process/pidns.js';
import { eventually, scaled } from '../helpers.js';
import { Cli, compiledCli, processesWith } from './cli.js';

const why = pidNamespaceUnavailable();
if (why !== null) process.stderr.write(`\nSKIPPED: supervise in a PID namespace: ${why}\n`);
const suite = why === null ? describe : describe.skip;

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, scaled(120_000));

const token = () => `${randomInt(100_000, 900_000)}.5`;
const live = (len: string) => processesWith(len).map((p) => p.pid);
const ownNs = () => fs.readlinkSync('/proc/self/ns/pid');

suite('core-process supervise in a PID namespace', { timeout: scaled(90_000) }, () => {
  it('good: kill -9 of the supervisor leaves none of `sleep & setsid sleep & sleep; wait` within 2 s, no restart needed', async ({
    expect,
    onTestFinished,
  }) => {
    const t = new Cli(bin, onTestFinished);
    const len = token();
    onTestFinished(() => {
      for (const pid of live(len)) process.kill(pid, 'SIGKILL');
    });
    const script = `sleep ${len} & setsid sleep ${len} & sleep ${len}; wait`;
    const sup = t.start(['supervise', '--restart', 'always', '--', 'sh', '-c', script]);
    const child = Number((await sup.waitFor('stderr', /started pid (\d+)/))[1]);
    t.reap(child);
    // sh and the three sleeps (plus our init, child.pid, in a PID namespace).
    expect(await eventually(() => live(len).length >= 4, scaled(10_000))).toBe(true);
    const childNs = fs.readlinkSync(`/proc/${child}/ns/pid`);
    sup.child.kill('SIGKILL');
    expect(await eventually(() => live(len).length === 0, scaled(2000))).toBe(true);
    expect(childNs).not.toBe(ownNs());
  });

  it('good: with --adopt the child stays in our PID namespace (its tree must outlive us)', async ({
    expect,
    onTestFinished,
  }) => {
    const t = new Cli(bin, onTestFinished);
    const len = token();
    onTestFinished(() => {
      for (const pid of live(len)) process.kill(pid, 'SIGKILL');
    });
    const sup = t.start(['supervise', '--adopt', '--name', 'kept', '--', 'sleep', len]);
    const child = Number((await sup.waitFor('stderr', /started pid (\d+)/))[1]);
    t.reap(child);
    expect(fs.readlinkSync(`/proc/${child}/ns/pid`)).toBe(ownNs());
    sup.child.kill('SIGTERM');
    expect((await sup.done).code).toBe(0);
  });
});
