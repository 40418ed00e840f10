// lockMemory / unlockMemory / memoryLocked, observed from outside: VmLck in the child's
// /proc/<pid>/status while it holds the lock and after it lets go, and the refusal an
// unprivileged process with a small RLIMIT_MEMLOCK gets.
import cp from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asRoot } from '../optional.js';
import {
  childEnv,
  compiledLib,
  FIXTURES,
  ROOT,
  removeCompiledLib,
  stageForOtherUsers,
} from '../subprocess.js';

let lib: string;
beforeAll(async () => {
  lib = await compiledLib();
}, 120_000);
afterAll(removeCompiledLib);

function vmLckBytes(pid: number): number {
  const m = /^VmLck:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmLck in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

interface NodeLine {
  label: string;
  major: number;
  /** null: a supported line that is not in the cache. */
  bin: string | null;
  /** process.version of bin when known up front. */
  version?: string;
}

/**
 * The Node running vitest plus each supported line that scripts/node-line.js has in its
 * cache (never fetched here: `node scripts/node-line.js all` fetches them). A line missing
 * from the cache is listed with bin null and a visible line saying so.
 */
function nodeLines(): NodeLine[] {
  const own = Number(process.versions.node.split('.')[0]);
  const lines: NodeLine[] = [
    {
      label: `Node ${process.version} (this one)`,
      major: own,
      bin: process.execPath,
      version: process.version,
    },
  ];
  const script = path.join(ROOT, 'scripts', 'node-line.js');
  for (const major of [22, 24, 26]) {
    if (major === own) continue;
    const r = cp.spawnSync(process.execPath, [script, String(major), '--cached'], {
      encoding: 'utf8',
    });
    const bin = r.status === 0 ? r.stdout.trim() : null;
    if (bin === null) {
      process.stderr.write(
        `\nSKIPPED: Node ${major} is not in the cache (node scripts/node-line.js ${major} fetches it); CI=true makes this a failure\n`,
      );
    }
    lines.push({ label: `Node ${major}`, major, bin });
  }
  return lines;
}

interface ChurnRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  lines: Line[];
  vmLckWhileWaiting: number;
}

/** rt-lock-gc.mjs under `bin`: VmLck is read from outside once it has churned, then it ends. */
function runChurn(bin: string, options: object): Promise<ChurnRun> {
  const child = cp.spawn(
    bin,
    ['--expose-gc', path.join(FIXTURES, 'rt-lock-gc.mjs'), lib, JSON.stringify(options)],
    { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'], timeout: 240_000 },
  );
  const run: ChurnRun = { code: null, signal: null, stderr: '', lines: [], vmLckWhileWaiting: -1 };
  let buf = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    run.stderr += d;
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const l = JSON.parse(buf.slice(0, nl)) as Line;
      buf = buf.slice(nl + 1);
      run.lines.push(l);
      if (l.ok === true) {
        run.vmLckWhileWaiting = vmLckBytes(child.pid as number);
        child.stdin.write('go\n');
      }
    }
  });
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      run.code = code;
      run.signal = signal;
      resolve(run);
    }),
  );
}

interface Line {
  ok?: boolean;
  kind?: string;
  message?: string;
  unlocked?: boolean;
  info?: { locked: boolean; lockedBytes: number };
  exitingLockedBytes?: number;
}

/** Starts rt-lock.mjs, hands each JSON line it prints to onLine, resolves on exit. */
function runLock(
  options: object,
  argvPrefix: string[],
  onLine: (l: Line, child: cp.ChildProcess) => void,
): Promise<{ code: number | null; stderr: string }> {
  // Another user (setpriv in the prefix) may not enter a private 0700 checkout: it runs the
  // world-readable copy.
  const staged = argvPrefix.includes('setpriv') ? stageForOtherUsers() : undefined;
  const at = (p: string) => staged?.map(p) ?? p;
  const argv = [...argvPrefix, process.execPath, at(path.join(FIXTURES, 'rt-lock.mjs'))];
  const env = Object.fromEntries(
    Object.entries(childEnv()).map(([k, v]) => [k, v === undefined ? v : at(v)]),
  );
  const child = cp.spawn(argv[0] as string, [...argv.slice(1), at(lib), JSON.stringify(options)], {
    env,
    cwd: staged?.root,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  let buf = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      onLine(JSON.parse(buf.slice(0, nl)) as Line, child);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

const isRoot = process.getuid?.() === 0;
// Locking the whole mapped space of a Node process (~1 GiB) exceeds any default limit.
const { itRoot } = asRoot('mlockall without MCL_ONFAULT (CAP_IPC_LOCK)');

// Under the sanitizer run (npm run test:asan) the process maps AddressSanitizer's shadow:
// terabytes reserved, which mlockall would try to lock. npm test runs these.
const sanitized = process.env.CORE_PROCESS_SANITIZER_PRELOAD !== undefined;
if (sanitized) {
  console.log(
    'memory.test.ts: skipped under the sanitizer run (mlockall would lock ASan’s shadow mappings); npm test runs it',
  );
}

describe.skipIf(sanitized)('lockMemory', () => {
  it('shows in the process’s VmLck while held and is gone after unlockMemory', async () => {
    const seen: number[] = [];
    const lines: Line[] = [];
    const r = await runLock({ onFault: true }, [], (l, child) => {
      lines.push(l);
      if (l.ok === true) {
        seen.push(vmLckBytes(child.pid as number));
        child.stdin?.write('go\n');
      } else if (l.unlocked) {
        seen.push(vmLckBytes(child.pid as number));
        child.stdin?.write('bye\n');
      }
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    if (lines[0]?.ok !== true) {
      // An unprivileged run with the usual 8 MiB RLIMIT_MEMLOCK: the refusal must say why.
      expect(isRoot).toBe(false);
      expect(lines[0]?.kind).toBe('PermissionDenied');
      expect(lines[0]?.message).toMatch(/CAP_IPC_LOCK.*RLIMIT_MEMLOCK \d+ bytes/);
      return;
    }
    // Node touches several MiB before user code: all of it is locked now.
    expect(seen[0]).toBeGreaterThan(4 << 20);
    expect(lines[0]?.info?.lockedBytes).toBeGreaterThan(4 << 20);
    expect(seen[1]).toBe(0);
    expect(lines[1]?.info).toEqual({ locked: false, lockedBytes: 0 });
  }, 90_000);

  itRoot(
    'without onFault faults in everything mapped: far more resident than with it',
    async () => {
      // VmLck counts the locked mappings either way; VmRSS shows what was actually faulted in.
      const residentWith = async (options: object) => {
        let rss = 0;
        await runLock(options, [], (l, child) => {
          if (l.ok === true) {
            const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            rss = Number(m?.[1]) * 1024;
            expect(vmLckBytes(child.pid as number)).toBeGreaterThan(0);
            child.stdin?.write('go\n');
          } else if (l.unlocked) {
            child.stdin?.write('bye\n');
          }
        });
        return rss;
      };
      const onFault = await residentWith({ onFault: true });
      const all = await residentWith({});
      expect(onFault).toBeGreaterThan(0);
      expect(all).toBeGreaterThan(1.5 * onFault);
    },
    90_000,
  );

  // V8 discards pages (madvise MADV_DONTNEED, CHECKed) at isolate start and end, when it
  // frees code and, from Node 24 on, in every forced GC's CppHeap sweep; the kernel refuses
  // that on locked memory and the process used to die with SIGTRAP. Every Node line runs the
  // program: the one running vitest, and each one cached by scripts/node-line.js.
  for (const line of nodeLines()) {
    const test = line.bin === null ? (process.env.CI ? it : it.skip) : it;
    test(`${line.label}: GC churn, a createThread thread, a plain Worker and exit all run with memory locked`, async () => {
      if (line.bin === null) {
        throw new Error(
          `${line.label} is not in the cache: node scripts/node-line.js ${line.major}`,
        );
      }
      for (const options of [{ onFault: true }, {}]) {
        if (!isRoot && !('onFault' in options)) continue; // the full lock needs CAP_IPC_LOCK
        const r = await runChurn(line.bin, options);
        const first = r.lines[0];
        if (!isRoot && first?.ok === false) {
          // The usual 8 MiB RLIMIT_MEMLOCK: refused, and saying why.
          expect(first.kind).toBe('PermissionDenied');
          expect(first.message).toMatch(/CAP_IPC_LOCK.*RLIMIT_MEMLOCK \d+ bytes/);
          return;
        }
        expect(r.stderr).not.toMatch(/Check failed/);
        expect({ signal: r.signal, code: r.code }).toEqual({ signal: null, code: 0 });
        expect(first).toMatchObject({
          ok: true,
          version: line.version ?? expect.any(String),
          thread: 'churned',
          worker: { value: 'churned', code: 0 },
          locked: true,
        });
        // Read from outside while the program waited, after everything above ran locked.
        expect(r.vmLckWhileWaiting).toBeGreaterThan(4 << 20);
        // And still locked as the process ended: nothing unlocked it on the way out.
        expect(r.lines[1]?.exitingLockedBytes).toBeGreaterThan(4 << 20);
      }
    }, 300_000);
  }

  it('is refused with a PermissionDenied that names CAP_IPC_LOCK and RLIMIT_MEMLOCK’s value', async () => {
    // prlimit(1) caps the child's RLIMIT_MEMLOCK at 64 KiB; as root the child also gives up
    // its capabilities by running as nobody, or CAP_IPC_LOCK would ignore the limit.
    const drop = isRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
    const lines: Line[] = [];
    const r = await runLock({ onFault: true }, ['prlimit', '--memlock=65536', ...drop], (l) => {
      lines.push(l);
    });
    expect(r.stderr).toBe('');
    expect(lines[0]?.ok).toBe(false);
    expect(lines[0]?.kind).toBe('PermissionDenied');
    expect(lines[0]?.message).toContain('CAP_IPC_LOCK');
    expect(lines[0]?.message).toContain('RLIMIT_MEMLOCK 65536 bytes');
  }, 90_000);
});
