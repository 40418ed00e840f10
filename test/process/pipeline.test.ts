// pipeline(): children piped to children (issue 18). Facts come from outside the library:
// /proc (process groups, states, write counts, our descriptors), a hash the first member
// computes itself, and bash's own PIPESTATUS for the same line.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessError, pipeline } from '../../lib/index.js';
import { cgroupBase } from '../../lib/process/cgroup.js';
import { eventually, fdsOf, fdTarget, procPids, procState, procStatusField } from '../helpers.js';
import { asRoot } from '../optional.js';

const { itRoot } = asRoot("pipeline containment 'cgroup' (a writable cgroup v2)");

const GiB = 2 ** 30;

function statOf(pid: number): { comm: string; pgid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { comm, pgid: Number(f[2]) };
}

// Our live children (not zombies) whose command line contains `marker`.
function childrenWith(marker: string): number[] {
  return procPids((p) => p.ppid === process.pid && p.state !== 'Z').filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  });
}

function wchar(pid: number): number {
  return Number(/^wchar:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
}

// What our descriptors point at, for a failure message (an fd may close while we look).
function openTargets(): string[] {
  return fdsOf('self').map((fd) => {
    try {
      return `${fd}:${fdTarget('self', fd)}`;
    } catch {
      return `${fd}:gone`;
    }
  });
}

// `line` run by bash, then `echo <what>`: PIPESTATUS (every member) or $? under pipefail.
const PIPESTATUS = '$' + '{PIPESTATUS[@]}';
function bash(script: string): string {
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).trim();
}

describe('pipeline()', () => {
  it('moves 1 GiB writer | cat into our buffer in order (sha256 computed by the writer)', async () => {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(256 * 1024);
    // A first line opens what stays open for good (the addon's cached /dev/null).
    await pipeline([{ program: 'true' }, { program: 'true' }]);
    const fdsBefore = fdsOf('self').length;
    const r = await pipeline(
      [
        {
          program: 'sh',
          args: ['-c', `exec 3>&1; head -c ${GiB} /dev/urandom | tee /dev/fd/3 | sha256sum >&2`],
        },
        { program: 'cat' },
      ],
      { stdout: { onread: { buffer, callback: (n, b) => void hash.update(b.subarray(0, n)) } } },
    );
    expect(r.code).toBe(0);
    expect(hash.digest('hex')).toBe(String(r.members[0]?.stderr).split(' ')[0]);
    // Our pipe ends close once their poll handles have (the next loop turn).
    const settled = await eventually(() => fdsOf('self').length <= fdsBefore);
    expect(settled, openTargets().join(' ')).toBe(true);
  }, 300_000);

  it('is one process group led by the first member, and aborting stops every member', async () => {
    const marker = `${process.pid}.${Date.now() % 100000}`;
    const ac = new AbortController();
    const running = pipeline(
      [
        { program: 'sh', args: ['-c', `sleep 30; : ${marker}`] },
        { program: 'sh', args: ['-c', `cat; : ${marker}`] },
        { program: 'sh', args: ['-c', `cat; : ${marker}`] },
      ],
      { signal: ac.signal, reject: false },
    );
    expect(await eventually(() => childrenWith(marker).length === 3)).toBe(true);
    const pids = childrenWith(marker).sort((a, b) => a - b);
    const groups = new Set(pids.map((p) => statOf(p).pgid));
    expect(groups.size).toBe(1);
    const [pgid] = [...groups];
    expect(pgid).not.toBe(statOf(process.pid).pgid);
    ac.abort();
    const r = await running;
    expect(r.aborted).toBe(true);
    expect(r.pgid).toBe(pgid);
    expect(r.members.map((m) => m.pid).sort((a, b) => a - b)).toEqual(pids);
    for (const m of r.members) expect(m.status.signal).toBe('SIGTERM');
    for (const pid of pids) expect(procState(pid)).toBeNull();
  }, 30_000);

  it('a SIGPIPE upstream is reported as a shell would: the same statuses as bash PIPESTATUS', async () => {
    const r = await pipeline([{ program: 'yes' }, { program: 'head', args: ['-n', '1'] }], {
      reject: false,
    });
    expect(r.members[0]?.status.signal).toBe('SIGPIPE');
    expect(r.stdout).toBe('y\n');
    const shell = bash(`yes | head -n 1 >/dev/null; echo ${PIPESTATUS}`);
    expect(r.members.map((m) => m.shellCode).join(' ')).toBe(shell);
    expect(r.code).toBe(Number(bash('set -o pipefail; yes | head -n 1 >/dev/null; echo $?')));
    // Rejecting (the default), the error names the SIGPIPE'd member: nothing else failed.
    const e = await pipeline([{ program: 'yes' }, { program: 'head', args: ['-n', '1'] }]).catch(
      (err: unknown) => err,
    );
    expect((e as ProcessError).kind).toBe('TerminatedBySignal');
    expect((e as ProcessError).code).toBe('SIGPIPE');
  });

  it('pipefail with a failing middle member: every status, the middle one named, like bash', async () => {
    const line = [
      { program: 'yes' },
      { program: 'sh', args: ['-c', 'head -c 10 >/dev/null; exit 3'] },
      { program: 'cat' },
    ];
    const r = await pipeline(line, { reject: false });
    expect(r.members.map((m) => m.shellCode).join(' ')).toBe(
      bash(`yes | sh -c 'head -c 10 >/dev/null; exit 3' | cat; echo ${PIPESTATUS}`),
    );
    expect(r.failed).toBe(1);
    expect(r.code).toBe(3);
    const e = await pipeline(line).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ProcessError);
    expect((e as ProcessError).kind).toBe('NonZeroExit');
    expect((e as ProcessError).message).toContain('member 1 (sh) failed first');
    expect((e as ProcessError).status?.code).toBe(3);
  });

  it('killOnFailure: a failing middle member stops the rest of the line at once', async () => {
    const started = Date.now();
    const r = await pipeline(
      [
        { program: 'sleep', args: ['30'] },
        { program: 'sh', args: ['-c', 'sleep 0.2; exit 4'] },
        { program: 'sleep', args: ['30'] },
      ],
      { killOnFailure: true, reject: false },
    );
    expect(r.failed).toBe(1);
    expect(r.members.map((m) => m.status.signal)).toEqual(['SIGTERM', null, 'SIGTERM']);
    expect(r.members[1]?.status.code).toBe(4);
    expect(Date.now() - started).toBeLessThan(25_000); // not the 30 s of the sleeps
  }, 40_000);

  it('back-pressure: a paused consumer blocks the whole line and our RSS stays flat', async () => {
    const total = 512 * 2 ** 20;
    let got = 0;
    let paused = false;
    let lastOutput: NodeJS.ReadableStream | null = null;
    const marker = `bp${process.pid}`;
    const rss = () => Number.parseInt(procStatusField('self', 'VmRSS'), 10);
    const rssBefore = rss();
    const running = pipeline(
      [
        { program: 'head', args: ['-c', String(total), '/dev/zero'] },
        { program: 'sh', args: ['-c', `cat; : ${marker}`] },
      ],
      {
        onSpawn: (handles) => {
          lastOutput = handles[handles.length - 1]?.stdout ?? null;
        },
        stdout: {
          onread: {
            buffer: Buffer.allocUnsafe(64 * 1024),
            callback(n) {
              got += n;
              if (!paused) {
                paused = true;
                return false;
              }
              return true;
            },
          },
        },
      },
    );
    expect(await eventually(() => paused, 10_000)).toBe(true);
    const head = procPids((p) => p.ppid === process.pid && p.state !== 'Z').find(
      (pid) => statOf(pid).comm === 'head',
    ) as number;
    expect(head).toBeGreaterThan(0);
    let before = -1;
    expect(
      await eventually(() => {
        const now = wchar(head);
        const still = now === before && procState(head) === 'S';
        before = now;
        return still;
      }, 20_000),
    ).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(wchar(head)).toBe(before);
    expect(before).toBeLessThan(16 * 2 ** 20); // two pipes' worth, not the 512 MiB
    expect(rss() - rssBefore).toBeLessThan(32 * 1024);
    const cat = childrenWith(marker)[0] as number;
    expect(procState(cat)).toBe('S');
    // Resuming the last member's stream drains the line.
    (lastOutput as NodeJS.ReadableStream | null)?.resume();
    const r = await running;
    expect(r.code).toBe(0);
    expect(got).toBe(total);
  }, 120_000);

  it('a line timeout stops every member (TimedOut); a member timeout stops that member only', async () => {
    const e = await pipeline([{ program: 'sleep', args: ['30'] }, { program: 'cat' }], {
      timeout: 200,
    }).catch((err: unknown) => err);
    expect((e as ProcessError).kind).toBe('TimedOut');
    const r = await pipeline(
      [{ program: 'sleep', args: ['30'], timeout: 200 }, { program: 'cat' }],
      {
        reject: false,
      },
    );
    expect(r.members[0]?.timedOut).toBe(true);
    expect(r.members[0]?.status.signal).toBe('SIGTERM');
    expect(r.members[1]?.status.code).toBe(0); // cat saw EOF and finished
    expect(r.failed).toBe(0);
  }, 30_000);

  it('a member that cannot start: rejected with its errno, the started ones reaped, no fd left', async () => {
    const fdsBefore = fdsOf('self');
    const e = await pipeline([
      { program: 'sleep', args: ['30'] },
      { program: 'no-such-program-core-process' },
    ]).catch((err: unknown) => err);
    expect((e as ProcessError).kind).toBe('NotFound');
    expect((e as ProcessError).code).toBe('ENOENT');
    expect(childrenWith('no-such-program').length).toBe(0);
    expect(await eventually(() => fdsOf('self').length <= fdsBefore.length)).toBe(true);
  });

  it('a caller’s { fd } for stdin and stdout stays open and the caller’s', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'core-process-pl-'));
    try {
      writeFileSync(path.join(dir, 'in'), 'b\na\n');
      const inFd = openSync(path.join(dir, 'in'), 'r');
      const outFd = openSync(path.join(dir, 'out'), 'w');
      const r = await pipeline([{ program: 'cat' }, { program: 'sort' }], {
        stdin: { fd: inFd },
        stdout: { fd: outFd },
      });
      expect(r.code).toBe(0);
      // Still ours: the kernel still has both open in this process.
      expect(fdTarget('self', inFd)).toBe(path.join(dir, 'in'));
      expect(fdTarget('self', outFd)).toBe(path.join(dir, 'out'));
      closeSync(inFd);
      closeSync(outFd);
      expect(readFileSync(path.join(dir, 'out'), 'utf8')).toBe('a\nb\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scheduling options apply to every member, and a member’s own value wins (seen in /proc)', async () => {
    const ac = new AbortController();
    let seen: number[] = [];
    const running = pipeline(
      [
        { program: 'sleep', args: ['30'], nice: 7 },
        { program: 'cat' },
        { program: 'cat', affinity: [0] },
      ],
      {
        nice: 3,
        signal: ac.signal,
        reject: false,
        onSpawn: (handles) => {
          seen = handles.map((h) => h.pid);
        },
      },
    );
    expect(await eventually(() => seen.length === 3 && procState(seen[2] as number) === 'S')).toBe(
      true,
    );
    // Field 19 of /proc/<pid>/stat is the nice value; Cpus_allowed_list the affinity.
    const niceOf = (pid: number) => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    expect(seen.map(niceOf)).toEqual([7, 3, 3]);
    expect(procStatusField(seen[2] as number, 'Cpus_allowed_list')).toBe('0');
    ac.abort();
    await running;
  });

  it('refuses an empty line and members that set what the line owns', async () => {
    for (const [members, field] of [
      [[], 'pipeline'],
      [[{ program: 'cat', stdout: 'null' }], 'pipeline[0].stdout'],
      [[{ program: 'cat' }, { program: 'cat', processGroup: true }], 'pipeline[1].processGroup'],
    ] as const) {
      const e = await pipeline(members as never).catch((err: unknown) => err);
      expect((e as ProcessError).kind).toBe('InvalidCommand');
      expect((e as ProcessError).field).toBe(field);
    }
  });
});

// The unified-hierarchy line of /proc/<pid>/cgroup ('0::/path'), or null once the pid is gone.
function cgroupOf(pid: number): string | null {
  try {
    return (
      readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith('0::')) ?? null
    );
  } catch {
    return null;
  }
}

const alive = (pid: number) => {
  const s = procState(pid);
  return s !== null && s !== 'Z';
};

// Grandchildren a failing test could leave behind (a setsid'd one is nobody's to reap).
const strays: number[] = [];
afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

// Member 0 backgrounds a grandchild that leaves the line's process group and session with
// setsid (ignoring SIGTERM when `stubborn`), writes its pid to `file`, then sleeps.
function escaper(file: string, stubborn = false): { program: string; args: string[] } {
  const inner = stubborn ? `setsid sh -c "trap '' TERM; exec sleep 300"` : 'setsid sleep 300';
  return { program: 'sh', args: ['-c', `${inner} & echo $! > ${file}; exec sleep 300`] };
}

async function grandchildIn(file: string): Promise<number> {
  let pid = 0;
  await eventually(() => {
    try {
      pid = Number(readFileSync(file, 'utf8').trim());
    } catch {
      pid = 0;
    }
    return pid > 0;
  }, 20_000);
  if (pid > 0) strays.push(pid);
  return pid;
}

describe("pipeline({ containment: 'cgroup' })", () => {
  itRoot(
    'every member and a setsid grandchild are in one fresh core-process cgroup; abort stops them all and the directory goes',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'core-process-plcg-'));
      try {
        const ac = new AbortController();
        let pids: number[] = [];
        let handlePaths: (string | null)[] = [];
        const running = pipeline(
          [escaper(path.join(dir, 'gc')), { program: 'cat' }, { program: 'cat' }],
          {
            containment: 'cgroup',
            signal: ac.signal,
            reject: false,
            onSpawn: (handles) => {
              pids = handles.map((h) => h.pid);
              handlePaths = handles.map((h) => h.cgroupPath);
            },
          },
        );
        const gc = await grandchildIn(path.join(dir, 'gc'));
        expect(gc).toBeGreaterThan(0);
        // Left the line's group and session: a group kill would not reach it.
        expect(await eventually(() => statOf(gc).pgid === gc, 20_000)).toBe(true);
        const ours = cgroupOf(process.pid);
        const lines = [...pids, gc].map(cgroupOf);
        expect(new Set(lines).size).toBe(1);
        const line = lines[0] as string;
        expect(line).not.toBe(ours);
        expect(path.basename(line)).toMatch(/^core-process\.\d+\.\d+\.\d+$/);
        const cgDir = path.join(cgroupBase() as string, path.basename(line));
        expect(
          readFileSync(path.join(cgDir, 'cgroup.procs'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map(Number)
            .sort((a, b) => a - b),
        ).toEqual([...pids, gc].sort((a, b) => a - b));
        ac.abort();
        const r = await running;
        expect(r.aborted).toBe(true);
        expect(r.containment).toBe('cgroup');
        expect(r.cgroupPath).toBe(cgDir);
        expect(handlePaths).toEqual([cgDir, cgDir, cgDir]);
        for (const m of r.members) expect(m.status.signal).toBe('SIGTERM');
        // The line resolved only once its cgroup was empty: the grandchild is dead already.
        expect(alive(gc)).toBe(false);
        expect(await eventually(() => !existsSync(cgDir), 20_000)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  itRoot(
    'a line timeout reaches a setsid grandchild that ignores SIGTERM (SIGKILL through the cgroup after killGrace)',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'core-process-plcg-'));
      try {
        const file = path.join(dir, 'gc');
        const r = await pipeline([escaper(file, true), { program: 'cat' }], {
          containment: 'cgroup',
          timeout: 2000,
          killGrace: 300,
          reject: false,
        });
        expect(r.timedOut).toBe(true);
        expect(r.containment).toBe('cgroup');
        const gc = await grandchildIn(file);
        expect(gc).toBeGreaterThan(0);
        // Checked at once: pipeline() resolves after the cgroup has emptied, not before.
        expect(alive(gc)).toBe(false);
        // A zombie (on this VM pid 1 may never reap it) still names its cgroup and, in stat
        // field 52, its wait status: it was in the line's cgroup and SIGTERM did not end it.
        const where = cgroupOf(gc);
        if (where !== null) {
          expect(where).toContain(path.basename(r.cgroupPath as string));
          const stat = readFileSync(`/proc/${gc}/stat`, 'utf8');
          const exitCode = Number(
            stat
              .slice(stat.lastIndexOf(')') + 2)
              .split(' ')
              .at(-1),
          );
          expect(exitCode & 0x7f).toBe(9); // SIGKILL
        }
        expect(await eventually(() => !existsSync(r.cgroupPath as string), 20_000)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  itRoot(
    'a member that cannot start: the started ones are reaped and no cgroup is left',
    async () => {
      const base = cgroupBase() as string;
      const ours = () =>
        readdirSync(base).filter((d) => d.startsWith(`core-process.${process.pid}.`));
      const before = ours();
      const e = await pipeline(
        [{ program: 'sleep', args: ['30'] }, { program: 'no-such-program-core-process' }],
        { containment: 'cgroup' },
      ).catch((err: unknown) => err);
      expect((e as ProcessError).kind).toBe('NotFound');
      expect(childrenWith('no-such-program').length).toBe(0);
      expect(await eventually(() => ours().length === before.length, 20_000)).toBe(true);
    },
  );

  itRoot(
    'an onSpawn hook that throws: the whole cgroup, setsid grandchild included, is killed',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'core-process-plcg-'));
      try {
        const file = path.join(dir, 'gc');
        let gc = 0;
        let cgDir: string | null = null;
        const e = await pipeline([escaper(file), { program: 'cat' }], {
          containment: 'cgroup',
          onSpawn: (handles) => {
            cgDir = handles[0]?.cgroupPath ?? null;
            // Synchronously, so the line cannot go on: wait until the grandchild exists.
            const nap = new Int32Array(new SharedArrayBuffer(4));
            const end = Date.now() + 20_000;
            while (gc === 0 && Date.now() < end) {
              try {
                gc = Number(readFileSync(file, 'utf8').trim());
              } catch {
                gc = 0;
              }
              if (gc === 0) Atomics.wait(nap, 0, 0, 10);
            }
            throw new Error('hook failed');
          },
        }).catch((err: unknown) => err);
        expect((e as Error).message).toBe('hook failed');
        expect(gc).toBeGreaterThan(0);
        strays.push(gc);
        expect(await eventually(() => !alive(gc), 20_000)).toBe(true);
        expect(cgDir).not.toBeNull();
        expect(await eventually(() => !existsSync(cgDir as unknown as string), 20_000)).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  it("without containment the line is one process group only: the same setsid grandchild outlives the line's timeout", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'core-process-plcg-'));
    try {
      const file = path.join(dir, 'gc');
      const r = await pipeline([escaper(file), { program: 'cat' }], {
        timeout: 2000,
        reject: false,
      });
      expect(r.timedOut).toBe(true);
      expect(r.containment).toBe('group');
      expect(r.cgroupPath).toBeNull();
      const gc = await grandchildIn(file);
      expect(gc).toBeGreaterThan(0);
      expect(alive(gc)).toBe(true);
      // It stayed in our own cgroup: no directory was made for the line.
      expect(cgroupOf(gc)).toBe(cgroupOf(process.pid));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it.skipIf(cgroupBase() !== null)(
    "with no writable cgroup v2 (not root here): warns once, falls back to the line's group",
    async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error & { code?: string }) => void warnings.push(String(w.code));
      process.on('warning', onWarning);
      try {
        const r = await pipeline([{ program: 'echo', args: ['hi'] }, { program: 'cat' }], {
          containment: 'cgroup',
        });
        expect(r.stdout).toBe('hi\n');
        expect(r.containment).toBe('group');
        expect(r.cgroupPath).toBeNull();
        await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on next tick
        expect(warnings).toContain('CORE_PROCESS_NO_CGROUP');
      } finally {
        process.off('warning', onWarning);
      }
    },
  );

  it('refuses per-member containment and limits, and a line without a group', async () => {
    for (const [members, options, field] of [
      [
        [{ program: 'cat' }, { program: 'cat', containment: 'cgroup' }],
        {},
        'pipeline[1].containment',
      ],
      [[{ program: 'cat', limits: { pids: 10 } }], { containment: 'cgroup' }, 'pipeline[0].limits'],
      [[{ program: 'cat' }], { containment: 'none' }, 'containment'],
    ] as const) {
      const e = await pipeline(members as never, options as never).catch((err: unknown) => err);
      expect((e as ProcessError).kind).toBe('InvalidCommand');
      expect((e as ProcessError).field).toBe(field);
    }
  });
});
