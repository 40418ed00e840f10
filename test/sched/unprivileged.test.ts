// Real refusals: the fixture runs as uid 65534 (setpriv --reuid --regid --clear-groups), with
// no capabilities, so EPERM and EACCES come from the kernel, not from a mock. Each refusal
// must say what is missing, and leave the task as it was (read from /proc/thread-self/stat).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { asRoot } from '../optional.js';
import { childEnv, compiledLib, removeCompiledLib, runNode } from '../subprocess.js';

const { describeRoot } = asRoot('running the fixture as uid 65534 (setpriv)');

interface Attempt {
  ok: boolean;
  kind?: string;
  code?: string;
  stage?: string;
  field?: string;
  message?: string;
}
interface Report {
  uid: number;
  before: { nice: number; rtPriority: number; policy: number };
  afterFifo10: Report['before'];
  afterNice: Report['before'];
  [attempt: string]: unknown;
}

let lib: string;
beforeAll(async () => {
  lib = await compiledLib();
});
afterAll(() => removeCompiledLib());

async function runAsNobody(): Promise<Report> {
  const r = await runNode('sched-unprivileged.mjs', [lib], childEnv(), { asUser: 65534 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

describeRoot('without CAP_SYS_NICE, RLIMIT_RTPRIO 0', () => {
  let report: Report;
  beforeAll(async () => {
    report = await runAsNobody();
  });

  it('runs as uid 65534', () => {
    expect(report.uid).toBe(65534);
  });

  it('realtime is PermissionDenied naming CAP_SYS_NICE and RLIMIT_RTPRIO, and the thread stays SCHED_OTHER', () => {
    expect(report.fifo10).toMatchObject({ ok: false, kind: 'PermissionDenied', code: 'EPERM' });
    expect((report.fifo10 as Attempt).message).toMatch(
      /SCHED_FIFO priority 10 needs CAP_SYS_NICE or RLIMIT_RTPRIO >= 10 \(this process: RLIMIT_RTPRIO 0\)/,
    );
    expect(report.afterFifo10).toEqual(report.before);
  });

  it('lowering nice is PermissionDenied naming RLIMIT_NICE; raising it works', () => {
    expect(report.niceDown).toMatchObject({ ok: false, kind: 'PermissionDenied' });
    expect((report.niceDown as Attempt).message).toMatch(
      /lowering nice to -5 needs CAP_SYS_NICE or RLIMIT_NICE >= 25/,
    );
    expect(report.niceUp).toMatchObject({ ok: true });
    expect(report.afterNice.nice).toBe(4);
  });

  it('a child of a niced thread keeps the nice it cannot be reset from (best effort), unless nice is asked', () => {
    expect(report.plainChildNice).toBe(4);
    expect(report.spawnNice).toMatchObject({ ok: false, kind: 'PermissionDenied', stage: 'nice' });
    expect((report.spawnNice as Attempt).message).toMatch(
      /cannot set nice 0 in the child: lowering nice to 0 needs CAP_SYS_NICE/,
    );
  });

  it('another user’s process cannot be pinned', () => {
    expect(report.affinityOfInit).toMatchObject({
      ok: false,
      kind: 'PermissionDenied',
      code: 'EPERM',
    });
  });

  it('spawn refuses with the stage and the missing privilege, and no child is left behind', () => {
    expect(report.spawnFifo).toMatchObject({
      ok: false,
      kind: 'PermissionDenied',
      stage: 'scheduler',
    });
    expect((report.spawnFifo as Attempt).message).toMatch(/RLIMIT_RTPRIO >= 30/);
    expect(report.spawnNice).toMatchObject({ ok: false, kind: 'PermissionDenied', stage: 'nice' });
    expect(report.spawnUid).toMatchObject({ ok: false, kind: 'PermissionDenied', stage: 'setuid' });
    expect((report.spawnUid as Attempt).message).toMatch(
      /cannot switch the child to uid 0: needs CAP_SETUID/,
    );
    expect(report.spawnNofile).toMatchObject({
      ok: false,
      kind: 'PermissionDenied',
      stage: 'rlimit',
    });
    expect((report.spawnNofile as Attempt).message).toMatch(
      /raising a hard limit needs CAP_SYS_RESOURCE/,
    );
  });
});
