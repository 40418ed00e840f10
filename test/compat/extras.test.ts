// Our additions on the facade's ChildProcess (absent from Node's): rusage and exitStatus after
// exit, killTree over a detached child's group. Node's defaults are untouched by them.
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { spawn } from '../../lib/child_process/index.js';
import { collect } from './impls.js';

/** Waits until the forked subshell has exec'd sleep (it shows as 'sh' for a moment). */
async function isSleep(pid: number): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    if (readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(sleep)')) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

describe('facade extras', () => {
  it('rusage after exit shows the CPU a busy child burned (rusage is null before)', async () => {
    const child = spawn('sh', ['-c', 'i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done']);
    expect(child.rusage).toBeNull();
    await once(child, 'exit');
    expect(child.rusage?.userCpuMs).toBeGreaterThan(20);
    expect(child.exitStatus?.code).toBe(0);
    expect(child.exitStatus?.durationMs).toBeGreaterThan(0);
  });

  it('killTree on a detached child reaches the grandchild it forked (gone from /proc)', async () => {
    const child = spawn('sh', ['-c', 'sleep 60 & echo $!; wait'], { detached: true });
    const grandchild = Number(
      (await new Promise<string>((r) => child.stdout?.once('data', (d) => r(String(d))))).trim(),
    );
    expect(await isSleep(grandchild)).toBe(true);
    expect(child.killTree('SIGKILL')).toBe(true);
    await once(child, 'exit');
    let gone = false;
    for (let i = 0; i < 200 && !gone; i++) {
      gone =
        !existsSync(`/proc/${grandchild}`) ||
        readFileSync(`/proc/${grandchild}/stat`, 'utf8').includes(') Z');
      if (!gone) await new Promise((r) => setTimeout(r, 10));
    }
    expect(gone).toBe(true);
    expect(child.killed).toBe(true);
  });

  it('kill() without detached leaves a grandchild running, as Node does', async () => {
    const child = spawn('sh', ['-c', 'sleep 60 & echo $!; wait']);
    const out = collect(child.stdout);
    const first = await new Promise<string>((r) => child.stdout?.once('data', (d) => r(String(d))));
    const grandchild = Number(first.trim());
    expect(await isSleep(grandchild)).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(readFileSync(`/proc/${grandchild}/stat`, 'utf8')).toContain('(sleep)');
    process.kill(grandchild, 'SIGKILL');
    await out;
  });
});
