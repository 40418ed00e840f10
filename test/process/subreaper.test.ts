// Subreaper mode: orphans of our trees come to us and are reaped here, not left as zombies;
// child_process's own children are left alone. Its own test file, because the mode is
// process-wide and cannot be turned off for the rest of a file.
import cp from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawn } from '../../lib/process/spawn.js';
import { enableSubreaper, subreaperStats } from '../../lib/process/subreaper.js';
import { until } from '../core/helpers.js';
import { procState } from '../helpers.js';
import { asRoot } from '../optional.js';

const { itRoot } = asRoot('finding a setsid orphan through its cgroup (a writable cgroup v2)');

const ppidOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

async function orphanOf(options: Parameters<typeof spawn>[0]): Promise<number> {
  const h = spawn({ ...options, stdout: 'pipe', stderr: 'null' });
  let out = '';
  h.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  await h.exited;
  await until(() => /^\d+\n/.test(out));
  return Number(out.trim());
}

describe('enableSubreaper', () => {
  it('good: a grandchild orphaned by its shell is re-parented to us and reaped when it exits', async () => {
    enableSubreaper();
    const before = subreaperStats().reaped;
    const pid = await orphanOf({
      program: 'sh',
      args: ['-c', 'sleep 0.5 & echo $!'],
      processGroup: true,
    });
    expect(ppidOf(pid)).toBe(process.pid);
    await until(() => procState(pid) === null, 5000); // gone entirely: not even a zombie
    expect(subreaperStats().reaped).toBeGreaterThan(before);
  });

  itRoot('ugly: one that left its group with setsid is still ours through its cgroup', async () => {
    enableSubreaper();
    const pid = await orphanOf({
      program: 'sh',
      args: ['-c', 'setsid sleep 0.5 & echo $!'],
      containment: 'cgroup',
    });
    expect(ppidOf(pid)).toBe(process.pid);
    await until(() => procState(pid) === null, 5000);
  });

  it("bad: child_process's children are not ours to reap: their exit codes survive", async () => {
    enableSubreaper();
    // Orphans keep arriving while child_process waits for its own child.
    const noise = Array.from({ length: 5 }, () =>
      orphanOf({ program: 'sh', args: ['-c', 'sleep 0.1 & echo $!'], processGroup: true }),
    );
    const code = await new Promise<number | null>((resolve) => {
      cp.spawn('sh', ['-c', 'sleep 0.3; exit 7']).on('exit', (c) => resolve(c));
    });
    await Promise.all(noise);
    expect(code).toBe(7);
  });
});
