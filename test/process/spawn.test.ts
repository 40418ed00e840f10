// Spawn, exit status, signals, groups and waits: each fact read from /proc, ps or the real
// exit status. Runs under every backend (see vitest.config.ts: default, clone, sigchld).
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { backend, ProcessError, type ProcessHandle, run, spawn } from '../../lib/index.js';
import { native } from '../../lib/native.js';
import {
  eventually,
  fdsOf,
  fdTarget,
  maskHas,
  procState,
  procStatusField,
  ps,
  runningAsleep,
  tempDir,
} from '../helpers.js';

const started: ProcessHandle[] = [];
function track(h: ProcessHandle): ProcessHandle {
  started.push(h);
  return h;
}
afterEach(async () => {
  for (const h of started.splice(0)) {
    if (h.running) {
      h.kill('SIGKILL');
      await h.exited;
    }
  }
});

const expectedBackend = {
  exit: process.env.CORE_PROCESS_NO_PIDFD ? 'sigchld' : 'pidfd',
  spawn: process.env.CORE_PROCESS_FORCE_CLONE ? 'clone' : 'auto',
};
// The 'no-spawn-extensions' project: glibc's addclosefrom/addchdir treated as absent (glibc
// 2.28), so every spawn takes the clone child (see spawn-extensions.test.ts).
const noExtensions = Boolean(process.env.CORE_PROCESS_NO_SPAWN_EXTENSIONS);

describe('backend', () => {
  it('uses the backend this project run asked for', () => {
    expect(backend()).toMatchObject(expectedBackend);
    if (noExtensions) {
      expect(backend().spawnExtensions).toEqual({ addclosefrom: false, addchdir: false });
    }
  });

  it('takes the spawn path the backend implies', () => {
    const child = track(spawn({ program: 'true' }));
    const clone = expectedBackend.spawn === 'clone' || noExtensions;
    expect(child.spawnMethod).toBe(clone ? 'clone' : 'posix_spawn');
  });
});

describe('exit status', () => {
  it('reports the real exit code', async () => {
    for (const code of [0, 1, 42, 255]) {
      const status = await spawn({ program: 'sh', args: ['-c', `exit ${code}`] }).exited;
      expect(status.code).toBe(code);
      expect(status.signal).toBeNull();
    }
  });

  it('reports the terminating signal by name', async () => {
    const child = spawn({ program: 'sleep', args: ['30'] });
    expect(child.kill('SIGUSR1')).toBe(true);
    const status = await child.exited;
    expect(status).toMatchObject({ code: null, signal: 'SIGUSR1', coreDumped: false });
  });

  it('reports a core dump when the kernel wrote one', async () => {
    const dir = tempDir();
    // core_pattern here is 'core' (a file in the cwd); the limit comes from the shell.
    const child = spawn({
      program: 'sh',
      args: ['-c', 'ulimit -c unlimited; exec sleep 30'],
      cwd: dir,
    });
    await eventually(() => runningAsleep(child.pid));
    child.kill('SIGQUIT');
    const status = await child.exited;
    expect(status.signal).toBe('SIGQUIT');
    expect(status.coreDumped).toBe(true);
  });

  it('measures rusage of the child, not of us', async () => {
    const status = await spawn({
      program: 'sh',
      args: ['-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'],
    }).exited;
    expect(status.code).toBe(0);
    expect(status.rusage.userCpuMs + status.rusage.systemCpuMs).toBeGreaterThan(5);
    expect(status.rusage.maxRssKb).toBeGreaterThan(0);
    expect(status.rusage.minorFaults).toBeGreaterThan(0);
    expect(status.durationMs).toBeGreaterThan(0);
    expect(status.pid).toBeGreaterThan(0);
  });

  it('settles exited once even when waitSync reaped first', async () => {
    const child = spawn({ program: 'sh', args: ['-c', 'exit 7'] });
    const sync = child.waitSync();
    const async = await child.exited;
    expect(sync.code).toBe(7);
    expect(async).toBe(sync);
    expect(child.running).toBe(false);
    expect(procState(child.pid)).toBeNull();
  });
});

describe('child signal state', () => {
  it('starts with no ignored signals although Node ignores SIGPIPE and SIGXFSZ', async () => {
    expect(maskHas(procStatusField('self', 'SigIgn'), constants.signals.SIGPIPE)).toBe(true);
    const child = track(spawn({ program: 'sleep', args: ['30'] }));
    await eventually(() => runningAsleep(child.pid));
    expect(procStatusField(child.pid, 'SigIgn')).toBe('0000000000000000');
  });

  it('starts with an empty signal mask even when the spawning thread blocks signals', async () => {
    const blocked = [constants.signals.SIGTERM, constants.signals.SIGUSR2];
    expect(native.threadSignalMask(true, blocked)).toBe(0);
    let child: ProcessHandle;
    try {
      expect(maskHas(procStatusField('self', 'SigBlk'), constants.signals.SIGTERM)).toBe(true);
      child = track(spawn({ program: 'sleep', args: ['30'] }));
    } finally {
      native.threadSignalMask(false, blocked);
    }
    await eventually(() => runningAsleep(child.pid));
    expect(procStatusField(child.pid, 'SigBlk')).toBe('0000000000000000');
    // And so SIGTERM really terminates it.
    child.kill('SIGTERM');
    expect((await child.exited).signal).toBe('SIGTERM');
  });
});

describe('descriptors reaching the child', () => {
  it('passes only 0, 1 and 2 although we hold other descriptors', async () => {
    expect(fdsOf('self').length).toBeGreaterThan(3);
    const child = track(spawn({ program: 'sleep', args: ['30'], stdout: 'pipe' }));
    await eventually(() => runningAsleep(child.pid));
    expect(fdsOf(child.pid)).toEqual([0, 1, 2]);
  });
});

describe('process groups and sessions', () => {
  it('keeps our group by default', () => {
    const child = track(spawn({ program: 'sleep', args: ['30'] }));
    expect(Number(ps(child.pid, 'pgid')[0])).toBe(native.getpgid(0));
    expect(child.pgid).toBe(native.getpgid(0));
  });

  it('puts the child in a new group it leads with processGroup: true', () => {
    const child = track(spawn({ program: 'sleep', args: ['30'], processGroup: true }));
    expect(Number(ps(child.pid, 'pgid')[0])).toBe(child.pid);
    expect(child.pgid).toBe(child.pid);
  });

  it('joins an existing group given its id', () => {
    const leader = track(spawn({ program: 'sleep', args: ['30'], processGroup: true }));
    const member = track(spawn({ program: 'sleep', args: ['30'], processGroup: leader.pid }));
    expect(Number(ps(member.pid, 'pgid')[0])).toBe(leader.pid);
    expect(member.pgid).toBe(leader.pid);
  });

  it('starts a new session with newSession: true', () => {
    const child = track(spawn({ program: 'sleep', args: ['30'], newSession: true }));
    const [pgid, sid] = ps(child.pid, 'pgid,sid').map(Number);
    expect(sid).toBe(child.pid);
    expect(pgid).toBe(child.pid);
  });

  it('killGroup reaches grandchildren, even after the leader was reaped', async () => {
    const dir = tempDir();
    const child = track(
      spawn({
        program: 'sh',
        args: ['-c', `sleep 30 & echo $! > ${dir}/a; sleep 30 & echo $! > ${dir}/b; exit 0`],
        processGroup: true,
      }),
    );
    expect((await child.exited).code).toBe(0);
    const grandchildren = ['a', 'b'].map((f) => Number(readFileSync(`${dir}/${f}`, 'utf8')));
    for (const pid of grandchildren) expect(Number(ps(pid, 'pgid')[0])).toBe(child.pid);
    expect(child.killGroup('SIGKILL')).toBe(true);
    for (const pid of grandchildren) {
      // init reaps them once they die; what matters is that they are no longer running.
      expect(await eventually(() => [null, 'Z'].includes(procState(pid)))).toBe(true);
    }
  });

  it('refuses killGroup for a child sharing our group', () => {
    const child = track(spawn({ program: 'sleep', args: ['30'] }));
    expect(() => child.killGroup('SIGTERM')).toThrow(/processGroup/);
    expect(procState(child.pid)).not.toBeNull();
  });
});

describe('kill', () => {
  it('returns false once the child has been reaped', async () => {
    const child = spawn({ program: 'true' });
    await child.exited;
    expect(child.kill('SIGKILL')).toBe(false);
    expect(child.kill()).toBe(false);
  });

  it('holds a pidfd for the running child and closes it at reap (pidfd backend)', async () => {
    const pidfdsFor = (pid: number) =>
      fdsOf('self').filter((fd) => {
        try {
          return (
            fdTarget('self', fd) === 'anon_inode:[pidfd]' &&
            readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').includes(`Pid:\t${pid}\n`)
          );
        } catch {
          return false;
        }
      });
    const child = spawn({ program: 'sleep', args: ['30'] });
    const expected = backend().exit === 'pidfd' ? 1 : 0;
    expect(pidfdsFor(child.pid)).toHaveLength(expected);
    child.kill('SIGKILL');
    await child.exited;
    expect(await eventually(() => pidfdsFor(child.pid).length === 0)).toBe(true);
  });

  it('rejects unknown signal names before any syscall', () => {
    const child = track(spawn({ program: 'sleep', args: ['30'] }));
    // @ts-expect-error: not a signal name
    expect(() => child.kill('SIGNOPE')).toThrow(ProcessError);
    // @ts-expect-error: not a signal name
    expect(() => child.kill('SIGNOPE')).toThrow(/"SIGNOPE"/);
    expect(procState(child.pid)).not.toBeNull();
  });
});

describe('waiting with a timeout', () => {
  it('wait({timeout}) rejects TimedOut and leaves the child running', async () => {
    const child = track(spawn({ program: 'sleep', args: ['30'] }));
    const err = await child.wait({ timeout: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessError);
    expect((err as ProcessError).kind).toBe('TimedOut');
    expect(child.running).toBe(true);
    expect(['S', 'R']).toContain(procState(child.pid));
  });

  it('wait({timeout}) resolves with the status when the child exits first', async () => {
    const child = spawn({ program: 'sh', args: ['-c', 'exit 4'] });
    expect((await child.wait({ timeout: 10_000 })).code).toBe(4);
  });

  it('waitSync({timeout}) throws TimedOut, then returns once the child is gone', () => {
    const child = track(spawn({ program: 'sleep', args: ['30'] }));
    expect(() => child.waitSync({ timeout: 30 })).toThrow(/still running after 30 ms/);
    expect(procState(child.pid)).not.toBeNull();
    child.kill('SIGKILL');
    const status = child.waitSync({ timeout: 10_000 });
    expect(status.signal).toBe('SIGKILL');
    expect(procState(child.pid)).toBeNull();
  });

  it('rejects a negative or non-finite timeout', () => {
    const child = track(spawn({ program: 'sleep', args: ['30'] }));
    expect(() => child.wait({ timeout: -1 })).toThrow(/timeout: -1/);
    expect(() => child.waitSync({ timeout: Number.NaN })).toThrow(/NaN/);
  });
});

describe('timeout escalation and abort', () => {
  it('sends killSignal at the timeout, then SIGKILL after the grace to a child ignoring it', async () => {
    // `exec` keeps one process; ignored dispositions survive exec, so sleep ignores TERM.
    const child = spawn({
      program: 'sh',
      args: ['-c', 'trap "" TERM; exec sleep 30'],
      timeout: 100,
      killGrace: 300,
    });
    const status = await child.exited;
    expect(child.timedOut).toBe(true);
    expect(status.signal).toBe('SIGKILL');
    expect(status.durationMs).toBeGreaterThanOrEqual(350);
    expect(status.durationMs).toBeLessThan(10_000);
  });

  it('stops at killSignal when the child obeys it', async () => {
    const child = spawn({ program: 'sleep', args: ['30'], timeout: 50, killSignal: 'SIGINT' });
    expect((await child.exited).signal).toBe('SIGINT');
  });

  it('run rejects TimedOut with the status and output so far', async () => {
    const err = await run('sh', ['-c', 'echo partial; trap "" TERM; exec sleep 30'], {
      timeout: 200,
      killGrace: 100,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessError);
    const e = err as ProcessError;
    expect(e.kind).toBe('TimedOut');
    expect(e.status?.signal).toBe('SIGKILL');
    expect(e.stdout).toBe('partial\n');
  });

  it('an AbortSignal stops the child', async () => {
    const ac = new AbortController();
    const child = spawn({ program: 'sleep', args: ['30'], signal: ac.signal });
    ac.abort(new Error('user cancelled'));
    const status = await child.exited;
    expect(child.aborted).toBe(true);
    expect(status.signal).toBe('SIGTERM');
  });

  it('run rejects an aborted run with aborted: true and the reason as cause', async () => {
    const ac = new AbortController();
    const p = run('sleep', ['30'], { signal: ac.signal });
    const reason = new Error('stop now');
    ac.abort(reason);
    const err = (await p.catch((e: unknown) => e)) as ProcessError;
    expect(err.kind).toBe('TerminatedBySignal');
    expect(err.aborted).toBe(true);
    expect(err.cause).toBe(reason);
  });

  it('a timeout on a group leader takes the whole group down', async () => {
    const dir = tempDir();
    const child = spawn({
      program: 'sh',
      args: ['-c', `sleep 30 & echo $! > ${dir}/g; wait`],
      processGroup: true,
      timeout: 200,
    });
    await child.exited;
    const grandchild = Number(readFileSync(`${dir}/g`, 'utf8'));
    expect(await eventually(() => [null, 'Z'].includes(procState(grandchild)))).toBe(true);
  });
});
