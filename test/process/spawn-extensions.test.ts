// glibc's posix_spawn extensions (addclosefrom_np 2.34, addchdir_np 2.29) are looked up at
// run time, so the prebuild loads on glibc 2.28; without them every spawn takes the clone
// child, which closes descriptors and changes directory itself. The 'no-spawn-extensions'
// project (vitest.config.ts) runs this file and the spawn suite with
// CORE_PROCESS_NO_SPAWN_EXTENSIONS=1, which makes the lookups come back empty: what a glibc
// 2.28 host sees. Each fact is read from /proc.
import cp from 'node:child_process';
import { readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { backend, ProcessError, type ProcessHandle, spawn } from '../../lib/index.js';
import { eventually, fdsOf, runningAsleep, tempDir } from '../helpers.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib } from '../subprocess.js';

const absent = Boolean(process.env.CORE_PROCESS_NO_SPAWN_EXTENSIONS);
const forced = Boolean(process.env.CORE_PROCESS_FORCE_CLONE);
// The glibc this Node runs on ('' on musl): 2.34+ has both extensions.
const report = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
const glibc = report.header.glibcVersionRuntime ?? '';
const [major = 0, minor = 0] = glibc.split('.').map(Number);
const glibc234 = major > 2 || (major === 2 && minor >= 34);

afterAll(removeCompiledLib);

const started: ProcessHandle[] = [];
afterEach(async () => {
  for (const h of started.splice(0)) {
    if (h.running) h.kill('SIGKILL');
    await h.exited;
  }
});

describe('posix_spawn extensions looked up at run time', () => {
  it('reports them absent exactly when CORE_PROCESS_NO_SPAWN_EXTENSIONS is set (else as glibc has them)', () => {
    const present = !absent && glibc234;
    expect(backend().spawnExtensions).toEqual({ addclosefrom: present, addchdir: present });
  });

  it('takes the clone child for every spawn without addclosefrom, posix_spawn with it', () => {
    const child = spawn({ program: 'true' });
    started.push(child);
    const clone = forced || !backend().spawnExtensions.addclosefrom;
    expect(child.spawnMethod).toBe(clone ? 'clone' : 'posix_spawn');
  });

  it('with them absent, the clone child starts in cwd holding only 0..2 of an inherited fd 3 (a subprocess)', async () => {
    const lib = await compiledLib();
    const dir = realpathSync(tempDir());
    // fd 3 of the subprocess is a pipe node:child_process leaves without CLOEXEC: the kind
    // of descriptor closefrom exists to keep out of the child.
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        const c = cp.spawn(
          process.execPath,
          [path.join(FIXTURES, 'spawn-extensions-child.mjs'), lib, dir],
          {
            env: childEnv({ CORE_PROCESS_NO_SPAWN_EXTENSIONS: '1', CORE_PROCESS_FORCE_CLONE: '' }),
            stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
            timeout: 100_000, // a loaded machine (CI runs files in parallel) starts Node slowly
          },
        );
        let stdout = '';
        let stderr = '';
        c.stdout?.on('data', (d: Buffer) => {
          stdout += d;
        });
        c.stderr?.on('data', (d: Buffer) => {
          stderr += d;
        });
        c.on('error', reject);
        c.on('close', (code) => resolve({ code, stdout, stderr }));
      },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      ours: number[];
      backend: { spawnExtensions: { addclosefrom: boolean; addchdir: boolean } };
      method: string;
      fds: number[];
      cwd: string;
    };
    expect(out.backend.spawnExtensions).toEqual({ addclosefrom: false, addchdir: false });
    expect(out.ours).toContain(3); // the subprocess really holds fd 3, so the next line can fail
    expect(out.method).toBe('clone');
    expect(out.fds).toEqual([0, 1, 2]);
    expect(out.cwd).toBe(dir);
  }, 120_000);

  it('starts the child in cwd on whichever path this run takes', async () => {
    const dir = realpathSync(tempDir());
    const child = spawn({ program: 'sleep', args: ['30'], cwd: dir, stdin: 'null' });
    started.push(child);
    await eventually(() => runningAsleep(child.pid));
    expect(readlinkSync(`/proc/${child.pid}/cwd`)).toBe(dir);
    expect(fdsOf(child.pid)).toEqual([0, 1, 2]);
    if (absent) expect(child.spawnMethod).toBe('clone');
  });

  it('fails synchronously with the errno and stage for a missing cwd and a missing program', () => {
    const missing = `${tempDir()}/gone`;
    const cwdErr = (() => {
      try {
        spawn({ program: 'true', cwd: missing });
      } catch (e) {
        return e;
      }
    })();
    expect(cwdErr).toBeInstanceOf(ProcessError);
    expect(cwdErr).toMatchObject({ code: 'ENOENT', syscall: 'chdir' });
    expect(() => spawn({ program: '/nonexistent/program' })).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});
