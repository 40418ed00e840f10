// Containment: which processes a tree kill reaches, checked in /proc. Process groups are
// escapable (setsid); a cgroup is not. dieWithParent ties the child to the spawning thread.
import cp from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ProcessHandle } from '../../lib/process/handle.js';
import { spawn } from '../../lib/process/spawn.js';
import { until } from '../core/helpers.js';
import { procState, scaled } from '../helpers.js';
import { asRoot } from '../optional.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib } from '../subprocess.js';

const { itRoot } = asRoot("containment 'cgroup' (a writable cgroup v2)");

const alive = (pid: number) => {
  const s = procState(pid);
  return s !== null && s !== 'Z';
};
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
afterAll(() => removeCompiledLib());

// A tree one member of which escapes its process group: `setsid` gives it a new session.
const ESCAPING_TREE = 'setsid sleep 60 & sleep 60 & wait';

const sessionLeader = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[5] === String(pid);
  } catch {
    return false;
  }
};

// The tree's members once `want` of them exist (and, for the escaping tree, once the setsid
// one has left its group: it forks before it calls setsid).
async function members(h: ProcessHandle, want: number, escaped = false): Promise<number[]> {
  let pids: number[] = [];
  await until(() => {
    pids = readdirPids().filter((pid) => descendsFrom(pid, h.pid));
    return pids.length >= want && (!escaped || pids.some(sessionLeader));
  });
  return pids;
}

function readdirPids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

// True when pid's ancestry passes through root, or it was started by one that did (a setsid
// child of root's shell keeps root as its parent until root exits).
function descendsFrom(pid: number, root: number): boolean {
  let p = pid;
  for (let depth = 0; depth < 10 && p > 1; depth++) {
    if (p === root) return pid !== root;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      return false;
    }
  }
  return false;
}

describe("spawn({ containment: 'cgroup' })", () => {
  itRoot(
    'good: the child runs in its own fresh cgroup, and killTree reaches the member that left its group',
    async () => {
      const h = spawn({
        program: 'sh',
        args: ['-c', ESCAPING_TREE],
        containment: 'cgroup',
        stderr: 'pipe',
      });
      expect(h.containment).toBe('cgroup');
      const cg = h.cgroupPath as string;
      expect(path.basename(cg)).toMatch(/^core-process\.\d+\.\d+\.\d+$/);
      const kids = await members(h, 2, true);
      for (const pid of [h.pid, ...kids]) {
        expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`0::/${path.basename(cg)}`);
      }
      const escaped = kids.find(sessionLeader);
      expect(escaped).toBeDefined(); // setsid made it a session leader, outside the group
      expect(h.killTree('SIGKILL')).toBe(true);
      await h.exited;
      await until(() => [h.pid, ...kids].every((pid) => !alive(pid)));
      await until(() => !existsSync(cg));
    },
  );

  it('bad: the same tree in a process group: killTree misses the setsid member (why cgroups exist)', async () => {
    const h = spawn({
      program: 'sh',
      args: ['-c', ESCAPING_TREE],
      containment: 'group',
      stderr: 'null',
    });
    expect(h.containment).toBe('group');
    const kids = await members(h, 2, true);
    strays.push(...kids);
    h.killTree('SIGKILL');
    await h.exited;
    await until(() => kids.filter(alive).length <= 1);
    const survivors = kids.filter(alive);
    expect(survivors).toHaveLength(1);
    expect(readFileSync(`/proc/${survivors[0]}/stat`, 'utf8').split(' ')[5]).toBe(
      String(survivors[0]),
    );
  });

  it('ugly: killTree of a child that leads no group signals the child alone, never a group it shares', async () => {
    // processGroup: false shares our group; processGroup: <pgid> joins one it does not own.
    // Either way a group kill would reach processes the child never started (this runner).
    const holder = spawn({ program: 'sleep', args: ['60'], processGroup: true });
    strays.push(holder.pid);
    for (const processGroup of [false, holder.pid]) {
      const h = spawn({ program: 'sh', args: ['-c', 'sleep 60 & wait'], processGroup });
      const [kid] = await members(h, 1);
      strays.push(kid as number);
      expect(h.killTree('SIGKILL')).toBe(true);
      const status = await h.exited;
      expect(status.signal).toBe('SIGKILL');
      expect(alive(kid as number)).toBe(true);
      expect(alive(holder.pid)).toBe(true);
      expect(h.treeAlive()).toBe(false);
    }
    holder.kill('SIGKILL');
    await holder.exited;
  });

  itRoot(
    'ugly: a timeout takes the whole tree down, TERM-ignoring members included, then the cgroup goes',
    async () => {
      const h = spawn({
        program: 'sh',
        args: ['-c', 'trap "" TERM; setsid sh -c \'trap "" TERM; sleep 60\' & sleep 60 & wait'],
        containment: 'cgroup',
        // Long enough for the shell to fork both members first (under TCG that took >400 ms).
        timeout: scaled(1000),
        killGrace: 200,
        stdout: 'null',
        stderr: 'null',
      });
      const cg = h.cgroupPath as string;
      const kids = await members(h, 2);
      const status = await h.exited;
      expect(h.timedOut).toBe(true);
      expect(status.signal).toBe('SIGKILL');
      await until(() => kids.every((pid) => !alive(pid)));
      await until(() => !existsSync(cg));
    },
  );

  itRoot(
    'good: terminateTree sends TERM, then KILL to what ignores it, and resolves when the tree is empty',
    async () => {
      const h = spawn({
        program: 'sh',
        args: ['-c', 'setsid sh -c \'trap "" TERM; sleep 60\' & sleep 60 & wait'],
        containment: 'cgroup',
        stdout: 'null',
        stderr: 'null',
      });
      const kids = await members(h, 2);
      await h.terminateTree({ signal: 'SIGTERM', grace: 300 });
      expect(h.treeAlive()).toBe(false);
      expect([h.pid, ...kids].filter(alive)).toEqual([]);
    },
  );

  it('bad: an unknown containment is refused naming the field, before any syscall', () => {
    expect(() => spawn({ program: 'true', containment: 'jail' as never })).toThrow(
      /invalid containment: "jail"/,
    );
    expect(() => spawn({ program: 'true', containment: 'cgroup', processGroup: 1 })).toThrow(
      /processGroup/,
    );
  });
});

// Each test starts a Node parent (and the worker case a worker in it): tens of seconds on a
// loaded machine, so more than the default 30 s per test.
describe('spawn({ dieWithParent })', { timeout: scaled(90_000) }, () => {
  async function parentThatSpawns(where: 'main' | 'worker', mode: 'die' | 'keep') {
    const lib = await compiledLib();
    const c = cp.spawn(
      process.execPath,
      [path.join(FIXTURES, 'contain-parent.mjs'), lib, where, mode],
      {
        env: childEnv(),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const lines: Array<Record<string, unknown>> = [];
    c.stdout.setEncoding('utf8').on('data', (d: string) => {
      for (const l of d.split('\n').filter(Boolean)) lines.push(JSON.parse(l));
    });
    // A Node start plus the library's import: seconds, more on a loaded machine (seen >10 s
    // with load 20 on two cores); until() scales it again under emulation.
    await until(() => lines.some((l) => typeof l.pid === 'number'), 30_000);
    const pid = lines.find((l) => typeof l.pid === 'number')?.pid as number;
    return { c, pid, lines };
  }

  it('good: the child is SIGKILLed when the process that spawned it dies', async () => {
    const { c, pid } = await parentThatSpawns('main', 'die');
    expect(alive(pid)).toBe(true);
    c.kill('SIGKILL');
    await until(() => !alive(pid));
  });

  it('bad: without it, the child outlives a killed parent (the orphan the option prevents)', async () => {
    const { c, pid } = await parentThatSpawns('main', 'keep');
    strays.push(pid);
    c.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(pid)).toBe(true);
  });

  it('ugly: spawned from a worker thread, the child dies when that worker ends, though the process lives', async () => {
    const { c, pid, lines } = await parentThatSpawns('worker', 'die');
    try {
      await until(() => lines.some((l) => l.workerExited === true), 30_000);
      await until(() => !alive(pid));
      expect(c.exitCode).toBeNull(); // the parent process is still running
    } finally {
      c.kill('SIGKILL');
    }
  });
});
