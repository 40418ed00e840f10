// adoptProcess: a live process we did not spawn, taken over by pid + start time (a restarted
// supervisor and the child its predecessor left). Signals go through its pidfd; its exit is
// seen (status lost: it belongs to its real parent); a recycled pid is refused. Facts from
// /proc and from node:child_process, which really is the parent here.
import cp from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ProcessError } from '../../lib/errors.js';
import { adoptProcess } from '../../lib/process/adopt.js';
import { processStartTime } from '../../lib/process/proc.js';
import { eventually, procState } from '../helpers.js';

function sleeper(): {
  child: cp.ChildProcess;
  pid: number;
  startTime: string;
  parentSaw: Promise<string | null>;
} {
  const child = cp.spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
  const pid = child.pid as number;
  const parentSaw = new Promise<string | null>((resolve) =>
    child.on('exit', (_c, sig) => resolve(sig)),
  );
  return { child, pid, startTime: processStartTime(pid) as string, parentSaw };
}

describe('adoptProcess', () => {
  it('good: the adopted process is signalled through the handle, its exit is seen with the status marked lost', async () => {
    const s = sleeper();
    const h = adoptProcess({ pid: s.pid, startTime: s.startTime });
    expect(h.spawnMethod).toBe('adopted');
    expect(h.pid).toBe(s.pid);
    expect(h.running).toBe(true);
    expect(h.kill('SIGTERM')).toBe(true);
    const status = await h.exited;
    expect(status).toMatchObject({ pid: s.pid, code: null, signal: null, lost: true });
    // The real parent got the real status.
    expect(await s.parentSaw).toBe('SIGTERM');
    expect(h.kill('SIGTERM')).toBe(false);
  });

  it('good: terminateTree stops the group the adopted process leads', async () => {
    const child = cp.spawn('sh', ['-c', 'sleep 300 & exec sleep 301'], {
      stdio: 'ignore',
      detached: true,
    });
    const pid = child.pid as number;
    await eventually(() => procState(pid) !== null);
    const h = adoptProcess({ pid, startTime: processStartTime(pid) as string });
    expect(h.pgid).toBe(pid);
    await h.terminateTree({ grace: 2000 });
    expect(h.treeAlive()).toBe(false);
    // Members left as zombies (node:child_process reaps its own) have exited: only live ones count.
    const live = cp
      .spawnSync('ps', ['-o', 'stat=', '-g', String(pid)])
      .stdout.toString()
      .split('\n')
      .filter((st) => st.trim() !== '' && !st.startsWith('Z'));
    expect(live).toEqual([]);
  });

  it('bad: a recycled pid (the start time differs) is refused as NotFound, nothing signalled', () => {
    const s = sleeper();
    try {
      const e = (() => {
        try {
          adoptProcess({ pid: s.pid, startTime: String(Number(s.startTime) + 1) });
        } catch (err) {
          return err;
        }
      })();
      expect(e).toBeInstanceOf(ProcessError);
      expect(e).toMatchObject({ kind: 'NotFound', code: 'ESRCH' });
      expect(procState(s.pid)).toMatch(/^[SR]$/);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  it('bad: a pid that is not a positive integer, or a start time that is not one, is InvalidCommand naming it', () => {
    expect(() => adoptProcess({ pid: -1, startTime: '1' })).toThrow(/pid.*-1/);
    expect(() => adoptProcess({ pid: 1, startTime: 'yesterday' })).toThrow(/startTime/);
  });
});
