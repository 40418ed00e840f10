/**
 * Thread behaviour that only a separate process can show: what an unprivileged user gets
 * when the kernel says EPERM, and whether a thread keeps its process alive. The scripts run
 * the compiled library under plain Node, started with node:child_process (and setpriv).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRoot } from '../optional.js';
import { childEnv, compiledLib, removeCompiledLib, runNode } from '../subprocess.js';
import { fixture, fixtureFromShared } from './helpers.js';

const { itRoot } = asRoot('running the fixture as uid 65534 (setpriv)');

const NOBODY = 65534;
let libDir: string;

beforeAll(async () => {
  libDir = new URL('.', await compiledLib()).href;
});

afterAll(() => removeCompiledLib());

interface Described {
  name: string;
  kind: string;
  code: string;
  field?: string;
  message: string;
}

describe('as an unprivileged user (setpriv --reuid=65534)', () => {
  itRoot(
    'EPERM is PermissionDenied naming the missing capability and limit; nothing changes',
    async () => {
      const run = await runNode(
        fixtureFromShared('unprivileged.mjs'),
        [libDir, fixture('report.mjs').href],
        childEnv(),
        { asUser: NOBODY },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const out = JSON.parse(run.stdout) as Record<string, unknown>;
      expect(out.uid).toBe(NOBODY);

      const realtime = out.realtime as Described;
      expect(realtime).toMatchObject({
        name: 'ThreadError',
        kind: 'PermissionDenied',
        code: 'EPERM',
      });
      expect(realtime.message).toMatch(
        /SCHED_FIFO priority 50 needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 50/,
      );
      expect(realtime.message).toMatch(/RLIMIT_RTPRIO 0/);
      expect(out.afterRealtime).toEqual({ policy: 'other', priority: 0, nice: 0 });

      // setpriority(2) says EACCES, not EPERM, for a nice it may not lower.
      const high = out.high as Described;
      expect(high).toMatchObject({ kind: 'PermissionDenied', code: 'EACCES' });
      expect(high.message).toMatch(/nice to -10 needs CAP_SYS_NICE or RLIMIT_NICE >= 30/);
      expect(out.afterHigh).toEqual({ policy: 'other', priority: 0, nice: 0 });

      // Refused inside the new thread: createThread rejects, and the thread is gone by then.
      const create = out.createRealtime as Described;
      expect(create).toMatchObject({
        name: 'ThreadError',
        kind: 'PermissionDenied',
        code: 'EPERM',
      });
      expect(create.message).toMatch(
        /^createThread: setScheduler thread tid \d+: SCHED_FIFO priority 50 needs CAP_SYS_NICE/,
      );
      expect(create.field).toBe('priority');
      expect(out.tasksAfter).toBe(out.tasksBefore);

      // After niceing itself to 10, resetting a new thread to the process's nice 0 is beyond
      // this user: the reset is best effort, so the thread keeps 10; asking for 'normal' fails.
      expect(out.createInheriting).toBe(10);
      const normal = out.createNormal as Described;
      expect(normal, normal.message).toMatchObject({
        kind: 'PermissionDenied',
        code: 'EACCES',
        field: 'priority',
      });
      expect(normal.message).toMatch(/lowering nice to 0 needs CAP_SYS_NICE/);
      expect(out.createLow).toBe(10);
    },
  );
});

describe('process lifetime', () => {
  const hold = fixture('hold.mjs').href;

  it('a thread keeps the process alive until it ends', async () => {
    const run = await runNode(
      fixtureFromShared('keepalive.mjs'),
      [libDir, hold, 'attached'],
      childEnv(),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^started \d+\nreleased\n$/);
  });

  it('a detached thread does not', async () => {
    const run = await runNode(
      fixtureFromShared('keepalive.mjs'),
      [libDir, hold, 'detached'],
      childEnv(),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^started \d+\n$/);
    expect(run.elapsedMs).toBeLessThan(5000);
  });
});
