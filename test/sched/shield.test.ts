// shieldCpus (scope 'subtree' only: the tests never move a process they did not start),
// observed from outside: /proc/<pid>/cpuset and Cpus_allowed_list of the holder's children
// and of a bystander, the cpuset directories, after release() and after a SIGKILLed holder.
import cp from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { onlineCpus } from '../../lib/sched/cpus.js';
import { cpusetMount, recoverShields } from '../../lib/sched/shield.js';
import { asRoot } from '../optional.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib } from '../subprocess.js';

const { describeRoot } = asRoot('cgroup v1 cpuset writes (shieldCpus)');
const usable = cpusetMount() !== null && onlineCpus().length >= 2;
const CPU = 1;

function cpuset(pid: number): string {
  return readFileSync(`/proc/${pid}/cpuset`, 'utf8').trim();
}

function allowed(pid: number): string {
  return (
    /^Cpus_allowed_list:\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?'
  );
}

interface Held {
  pids: [number, number];
  self: number;
  shieldPath: string;
  systemPath: string;
  exclusive: boolean;
  moved: number;
}

function startHolder(lib: string): Promise<{ child: cp.ChildProcess; held: Held }> {
  const child = cp.spawn(
    process.execPath,
    [path.join(FIXTURES, 'rt-shield.mjs'), lib, String(CPU)],
    {
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${err}`)));
    child.stdout?.once('data', (d: Buffer) => {
      child.removeAllListeners('exit');
      resolve({ child, held: JSON.parse(d.toString().split('\n')[0] as string) as Held });
    });
  });
}

let lib: string;
let bystander: cp.ChildProcess;
beforeAll(async () => {
  lib = await compiledLib();
  bystander = cp.spawn('sleep', ['120'], { stdio: 'ignore' });
}, 120_000);
afterAll(() => {
  bystander.kill('SIGKILL');
  removeCompiledLib();
});

(usable ? describeRoot : describeRoot.skip)('shieldCpus, subtree scope', () => {
  it('moves the holder’s tasks off the CPU, puts add()ed ones on it alone, and release() restores all', async () => {
    const before = {
      cpuset: cpuset(bystander.pid as number),
      allowed: allowed(bystander.pid as number),
    };
    const { child, held } = await startHolder(lib);
    const [plain, shielded] = held.pids;
    const mount = cpusetMount() as string;
    expect(held.moved).toBeGreaterThan(0);
    expect(path.join(mount, cpuset(plain))).toBe(held.systemPath);
    expect(allowed(plain)).toBe('0');
    expect(path.join(mount, cpuset(shielded))).toBe(held.shieldPath);
    expect(allowed(shielded)).toBe(String(CPU));
    expect(path.join(mount, cpuset(held.self))).toBe(held.systemPath);
    expect(readFileSync(path.join(held.shieldPath, 'cpuset.cpu_exclusive'), 'utf8').trim()).toBe(
      held.exclusive ? '1' : '0',
    );
    // Not ours: untouched.
    expect({
      cpuset: cpuset(bystander.pid as number),
      allowed: allowed(bystander.pid as number),
    }).toEqual(before);

    child.stdin?.write('release\n');
    await new Promise((r) => child.once('exit', r));
    expect(existsSync(held.shieldPath)).toBe(false);
    expect(existsSync(held.systemPath)).toBe(false);
    expect({
      cpuset: cpuset(bystander.pid as number),
      allowed: allowed(bystander.pid as number),
    }).toEqual(before);
  }, 60_000);

  it('a SIGKILLed holder’s shield is undone by the next start (recoverShields)', async () => {
    const { child, held } = await startHolder(lib);
    const [plain, shielded] = held.pids;
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    try {
      // Nobody released it: the orphaned children are still fenced.
      expect(existsSync(held.shieldPath)).toBe(true);
      expect(allowed(plain)).toBe('0');
      expect(allowed(shielded)).toBe(String(CPU));
      expect(recoverShields()).toContain(held.self);
      expect(existsSync(held.shieldPath)).toBe(false);
      expect(existsSync(held.systemPath)).toBe(false);
      expect(cpuset(plain)).toBe(cpuset(process.pid));
      expect(cpuset(shielded)).toBe(cpuset(process.pid));
      expect(allowed(plain)).toBe(allowed(process.pid));
      expect(recoverShields()).toEqual([]); // nothing left to undo
    } finally {
      for (const pid of held.pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  }, 60_000);
});
