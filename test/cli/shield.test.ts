// `core-process shield --cpus 1 -- cmd` (scope subtree only): the command sees itself alone
// on the CPU from its first instruction, its exit code comes back, and afterwards no cpuset
// of ours is left in the hierarchy.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { onlineCpus } from '../../lib/sched/cpus.js';
import { shieldHierarchy } from '../../lib/sched/shield.js';
import { Cli, compiledCli, type OnFinished } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);
const root = process.getuid?.() === 0;
const mount = shieldHierarchy()?.mount ?? null;
const usable = root && mount !== null && onlineCpus().length >= 2;

describe('core-process shield', () => {
  it.skipIf(!usable)(
    'good: the command runs inside the shield from exec on; nothing is left afterwards',
    async ({ onTestFinished }) => {
      const t = cli(onTestFinished);
      const r = await t.run([
        'shield',
        '--cpus',
        '1',
        '--json',
        '--',
        'sh',
        '-c',
        'grep Cpus_allowed_list /proc/$$/status; cat /proc/$$/cpuset; exit 3',
      ]);
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(/^Cpus_allowed_list:\s+1\n\/(.*\/)?core-shield-\d+-shield\n$/);
      const report = JSON.parse(r.stderr.split('\n')[0] as string) as {
        cpus: number[];
        moved: number;
      };
      expect(report.cpus).toEqual([1]);
      // Made under our own cpuset cgroup (v1 or v2 alike, /proc/self/cpuset names it).
      const ours = path.join(mount as string, readFileSync('/proc/self/cpuset', 'utf8').trim());
      expect(readdirSync(ours).filter((d) => d.startsWith('core-shield-'))).toEqual([]);
    },
  );

  it('bad: --cpus is required and must be a CPU list', async ({ onTestFinished }) => {
    const t = cli(onTestFinished);
    const missing = await t.run(['shield', '--', 'true']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("required option '--cpus <list>'");
    const wrong = await t.run(['shield', '--cpus', 'x', '--', 'true']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('is not a CPU list');
  });
});
