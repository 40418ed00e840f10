// PID files, checked on disk and against /proc: what acquire writes, when a file is held and
// when it is stale (dead pid, recycled pid, zombie, garbage), what release may remove, and real
// processes racing for one file.
import cp from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PidFile, PidFileError, processStartTime } from '../../lib/daemon/pidfile.js';
import { eventually, procState, tempDir } from '../helpers.js';
import {
  compiledDaemon,
  deadPid,
  listDir,
  type NodeChild,
  removeCompiledDaemon,
  startNode,
  startTimeOf,
} from './helpers.js';

// Compiling takes seconds on a loaded machine; do it once, outside any test's own bound.
beforeAll(() => compiledDaemon(), 120_000);
afterAll(removeCompiledDaemon);

function pidPath(): string {
  return path.join(tempDir('core-process-pidfile-'), 'app.pid');
}

function heldError(fn: () => void): PidFileError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PidFileError);
    return e as PidFileError;
  }
  throw new Error('expected a PidFileError, nothing was thrown');
}

describe('processStartTime', () => {
  it('good: is field 22 of /proc/<pid>/stat for a live pid', () => {
    expect(processStartTime(process.pid)).toBe(startTimeOf(process.pid));
    expect(processStartTime(process.ppid)).toBe(startTimeOf(process.ppid));
  });

  it('bad: is null for a reaped pid and for pids that cannot exist', () => {
    expect(processStartTime(deadPid())).toBeNull();
    // pid_max is at most 2^22 on Linux.
    expect(processStartTime(2 ** 22 + 1)).toBeNull();
    expect(processStartTime(0)).toBeNull();
    expect(processStartTime(-1)).toBeNull();
    expect(processStartTime(1.5)).toBeNull();
  });

  it('ugly: a command name with spaces and parentheses does not shift the fields', async () => {
    const dir = tempDir('core-process-comm-');
    const odd = path.join(dir, 'a) b (c');
    cp.execFileSync('cp', ['/bin/sleep', odd]);
    const child = cp.spawn(odd, ['5'], { stdio: 'ignore' });
    try {
      const pid = child.pid as number;
      expect(
        await eventually(() => readFileSync(`/proc/${pid}/comm`, 'utf8') === 'a) b (c\n'),
      ).toBe(true);
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const known = stat.slice(stat.indexOf('(a) b (c) ') + '(a) b (c) '.length).split(' ');
      expect(processStartTime(pid)).toBe(known[19]);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('PidFile.acquire', () => {
  it('good: writes our pid and a newline, nothing else (FHS), and leaves no temp file', () => {
    const file = pidPath();
    const pidFile = new PidFile(file);
    pidFile.acquire();
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    expect(pidFile.read()).toEqual({ pid: process.pid });
    expect(pidFile.owner()).toEqual({ pid: process.pid, startTime: startTimeOf(process.pid) });
    expect(listDir(path.dirname(file))).toEqual(['app.pid']);
    expect(pidFile.release()).toBe(true);
  });

  it('good: a relative path is resolved against the cwd at construction; missing dirs are made', () => {
    const base = tempDir('core-process-pidfile-');
    const cwd = process.cwd();
    process.chdir(base);
    let pidFile: PidFile;
    try {
      pidFile = new PidFile('run/deeper/app.pid');
    } finally {
      process.chdir(cwd);
    }
    expect(pidFile.path).toBe(path.join(base, 'run', 'deeper', 'app.pid'));
    pidFile.acquire();
    expect(readFileSync(path.join(base, 'run', 'deeper', 'app.pid'), 'utf8')).toBe(
      `${process.pid}\n`,
    );
  });

  it('good: acquires on behalf of another live pid', () => {
    const file = pidPath();
    new PidFile(file).acquire(process.ppid);
    expect(readFileSync(file, 'utf8')).toBe(`${process.ppid}\n`);
    expect(new PidFile(file).owner()).toEqual({
      pid: process.ppid,
      startTime: startTimeOf(process.ppid),
    });
  });

  it('bad: a second acquire while we live is Held, naming the path and our pid', () => {
    const file = pidPath();
    new PidFile(file).acquire();
    const e = heldError(() => new PidFile(file).acquire());
    expect(e.kind).toBe('Held');
    expect(e.path).toBe(file);
    expect(e.pid).toBe(process.pid);
    expect(e.message).toContain(file);
    expect(e.message).toContain(String(process.pid));
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    expect(listDir(path.dirname(file))).toEqual(['app.pid']);
  });

  it('bad: a one-line file naming a live process that started before it was written is Held', () => {
    const file = pidPath();
    writeFileSync(file, `${process.ppid}\n`);
    const e = heldError(() => new PidFile(file).acquire());
    expect(e).toMatchObject({ kind: 'Held', pid: process.ppid, path: file });
    expect(readFileSync(file, 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('bad: a two-line file (the earlier format) naming a live process by its real start time is Held', () => {
    const file = pidPath();
    const record = `${process.ppid}\n${startTimeOf(process.ppid)}\n`;
    writeFileSync(file, record);
    const e = heldError(() => new PidFile(file).acquire());
    expect(e).toMatchObject({ kind: 'Held', pid: process.ppid, path: file });
    expect(readFileSync(file, 'utf8')).toBe(record);
  });

  it('bad: a pid that is not running cannot be recorded', () => {
    const file = pidPath();
    const dead = deadPid();
    const e = heldError(() => new PidFile(file).acquire(dead));
    expect(e.kind).toBe('Io');
    expect(e.message).toContain(String(dead));
    expect(existsSync(file)).toBe(false);
    expect(() => new PidFile(file).acquire(0)).toThrow(/got 0/);
  });

  it('ugly: the file of a dead pid is stale and replaced', () => {
    const file = pidPath();
    writeFileSync(file, `${deadPid()}\n12345\n`);
    new PidFile(file).acquire();
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    expect(listDir(path.dirname(file))).toEqual(['app.pid']);
  });

  it('ugly: a one-line file older than the live process its pid now names is stale (recycled pid)', () => {
    // The parent (vitest) started moments ago; a file written a day before cannot be its.
    const file = pidPath();
    writeFileSync(file, `${process.ppid}\n`);
    const dayAgo = new Date(Date.now() - 86_400_000);
    utimesSync(file, dayAgo, dayAgo);
    expect(new PidFile(file).owner()).toBeNull();
    new PidFile(file).acquire();
    expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
  });

  it('ugly: a two-line file whose pid is alive with another start time is stale (recycled pid)', () => {
    for (const live of [1, process.ppid]) {
      const file = pidPath();
      const wrong = String(Number(startTimeOf(live)) + 1);
      writeFileSync(file, `${live}\n${wrong}\n`);
      new PidFile(file).acquire();
      expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    }
  });

  it('ugly: garbage, an empty file and extra lines are stale', () => {
    for (const content of ['hello\nworld\n', '', `${process.ppid}\n1\n2\n`, '\0\0\0\0']) {
      const file = pidPath();
      writeFileSync(file, content);
      expect(new PidFile(file).read()).toBeNull();
      new PidFile(file).acquire();
      expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    }
  });

  it('ugly: a zombie (exited, not yet reaped) holds nothing', async () => {
    // The background sleep outlives the shell's exec, so it exits as a child of `sleep 30`,
    // which never reaps it (the shell itself might have reaped it before exec).
    const parent = cp.spawn('sh', ['-c', 'sleep 1 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const zombie = Number(
        await new Promise<string>((resolve) => parent.stdout.once('data', (d) => resolve(`${d}`))),
      );
      expect(await eventually(() => procState(zombie) === 'Z')).toBe(true);
      const file = pidPath();
      writeFileSync(file, `${zombie}\n`);
      new PidFile(file).acquire();
      expect(readFileSync(file, 'utf8')).toBe(`${process.pid}\n`);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('PidFile from a shell', () => {
  it('good: `kill $(cat app.pid)` signals our process and nothing else, and succeeds', async () => {
    const target = cp.spawn('sleep', ['30'], { stdio: 'ignore' });
    const bystander = cp.spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const file = pidPath();
      new PidFile(file).acquire(target.pid as number);
      // With a second line, kill would get a second operand: a start time taken as a pid.
      const words = cp.execFileSync('sh', ['-c', 'set -- $(cat "$1"); echo $#', 'sh', file]);
      expect(`${words}`).toBe('1\n');
      const r = cp.spawnSync('sh', ['-c', 'kill $(cat "$1")', 'sh', file], { encoding: 'utf8' });
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
        target.once('exit', (c, s) => resolve([c, s])),
      );
      expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
      expect(procState(bystander.pid as number)).not.toBeNull();
      expect(bystander.exitCode).toBeNull();
    } finally {
      target.kill('SIGKILL');
      bystander.kill('SIGKILL');
    }
  });
});

describe('PidFile.release', () => {
  it('good: removes our own file and reports it', () => {
    const file = pidPath();
    const pidFile = new PidFile(file);
    pidFile.acquire();
    expect(pidFile.release()).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(pidFile.release()).toBe(false);
  });

  it('bad: leaves a file that another process’s record has replaced', () => {
    const file = pidPath();
    const pidFile = new PidFile(file);
    pidFile.acquire();
    const theirs = `${process.ppid}\n${startTimeOf(process.ppid)}\n`;
    writeFileSync(file, theirs);
    expect(pidFile.release()).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(theirs);
  });

  it('ugly: an object that never acquired removes nothing, even a file with our pid', () => {
    const file = pidPath();
    new PidFile(file).acquire();
    expect(new PidFile(file).release()).toBe(false);
    expect(existsSync(file)).toBe(true);
  });
});

describe('PidFile race', () => {
  const CONTENDERS = 8;

  /** Starts the contenders, releases them at once, and returns what each one reported. */
  async function race(file: string) {
    const lib = await compiledDaemon();
    const children: NodeChild[] = [];
    for (let i = 0; i < CONTENDERS; i++) children.push(startNode('pidfile-race.mjs', [lib, file]));
    try {
      for (const c of children) expect(await c.line()).toBe('ready');
      for (const c of children) c.proc.stdin.write('go\n');
      const outcomes = await Promise.all(
        children.map(async (c) => JSON.parse(await c.line()) as Record<string, unknown>),
      );
      // Everyone has answered and still holds whatever it got: the file names the one winner.
      const onDisk = readFileSync(file, 'utf8');
      for (const c of children) c.proc.stdin.end();
      const ends = await Promise.all(children.map((c) => c.exited));
      return { outcomes, onDisk, ends, children };
    } finally {
      for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
  }

  it.each([
    ['no file', (_file: string) => {}],
    ['a stale file of a dead pid', (file: string) => writeFileSync(file, `${deadPid()}\n1\n`)],
    ['a garbage file', (file: string) => writeFileSync(file, 'garbage')],
  ])(
    'good: with %s, exactly one of 8 simultaneous processes acquires, the others are Held',
    async (_what, setup) => {
      for (let round = 0; round < 3; round++) {
        const file = pidPath();
        mkdirSync(path.dirname(file), { recursive: true });
        setup(file);
        const { outcomes, onDisk, ends, children } = await race(file);
        const winners = outcomes.filter((o) => o.result === 'acquired');
        const held = outcomes.filter((o) => o.result === 'Held');
        expect(winners, JSON.stringify(outcomes)).toHaveLength(1);
        expect(held, JSON.stringify(outcomes)).toHaveLength(CONTENDERS - 1);
        const winner = winners[0]?.pid as number;
        expect(onDisk.split('\n')[0]).toBe(String(winner));
        for (const h of held) expect(h.holder).toBe(winner);
        for (const end of ends) expect(end).toEqual({ code: 0, signal: null });
        const winnerChild = children.find((c) => c.proc.pid === winner);
        expect(JSON.parse((await winnerChild?.line()) ?? 'null')).toEqual({ released: true });
        // The winner released on its way out; no temp or claim file is left behind.
        expect(listDir(path.dirname(file))).toEqual([]);
      }
    },
    120_000,
  );
});
