// Failures: bad input is refused before any syscall with the field and value named; system
// failures carry the real errno, the syscall and the stage; nothing is left behind.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProcessError, type SpawnOptions, spawn } from '../../lib/index.js';
import { fdsOf, tempDir, zombieChildren } from '../helpers.js';

function spawnError(options: SpawnOptions): ProcessError {
  try {
    const child = spawn(options);
    child.kill('SIGKILL');
  } catch (e) {
    if (e instanceof ProcessError) return e;
    throw e;
  }
  throw new Error(`spawn ${JSON.stringify(options)} did not fail`);
}

const dir = tempDir();
const notExecutable = path.join(dir, 'plain.txt');
writeFileSync(notExecutable, 'just text\n');
const badFormat = path.join(dir, 'garbage');
writeFileSync(badFormat, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
chmodSync(badFormat, 0o755);
const subdir = path.join(dir, 'subdir');
mkdirSync(subdir);
// PATH lookup: a non-executable file found in PATH is EACCES, like execvp.
const pathDir = path.join(dir, 'bin');
mkdirSync(pathDir);
writeFileSync(path.join(pathDir, 'noexec-tool'), '#!/bin/sh\necho hi\n');

describe('exec errors carry the real errno, synchronously', () => {
  it('a missing program is NotFound / ENOENT', () => {
    const e = spawnError({ program: 'no-such-program-anywhere' });
    expect(e).toMatchObject({ kind: 'NotFound', code: 'ENOENT', errno: 2 });
    expect(e.message).toContain('no-such-program-anywhere');
  });

  it('a missing absolute path is NotFound / ENOENT from the exec stage', () => {
    const e = spawnError({ program: path.join(dir, 'missing') });
    expect(e).toMatchObject({ kind: 'NotFound', code: 'ENOENT', stage: 'exec' });
  });

  it('a file without the execute bit is PermissionDenied / EACCES', () => {
    const e = spawnError({ program: notExecutable });
    expect(e).toMatchObject({ kind: 'PermissionDenied', code: 'EACCES', stage: 'exec' });
    expect(e.path).toBe(notExecutable);
  });

  it('a non-executable file found in PATH is EACCES, not ENOENT', () => {
    const e = spawnError({ program: 'noexec-tool', env: { PATH: pathDir } });
    expect(e).toMatchObject({ kind: 'PermissionDenied', code: 'EACCES' });
  });

  it('PATH lookup uses the child env PATH', async () => {
    writeFileSync(path.join(pathDir, 'my-tool'), '#!/bin/sh\nexit 9\n', { mode: 0o755 });
    const child = spawn({ program: 'my-tool', env: { PATH: `${pathDir}:/usr/bin:/bin` } });
    expect((await child.exited).code).toBe(9);
  });

  it('an executable in an unknown format is SpawnFailed / ENOEXEC', () => {
    const e = spawnError({ program: badFormat });
    expect(e).toMatchObject({ kind: 'SpawnFailed', code: 'ENOEXEC', stage: 'exec' });
    expect(e.message).toMatch(/not an executable format/);
  });

  it('a directory as program is PermissionDenied / EACCES', () => {
    const e = spawnError({ program: subdir });
    expect(e).toMatchObject({ kind: 'PermissionDenied', code: 'EACCES' });
  });

  it('a missing cwd is NotFound naming the cwd, not the program', () => {
    const cwd = path.join(dir, 'no-such-dir');
    const e = spawnError({ program: 'true', cwd });
    expect(e).toMatchObject({ kind: 'NotFound', code: 'ENOENT', stage: 'chdir', path: cwd });
    expect(e.message).toContain(cwd);
  });

  it('a cwd that is a file is ENOTDIR naming the cwd', () => {
    const e = spawnError({ program: 'true', cwd: notExecutable });
    expect(e).toMatchObject({ code: 'ENOTDIR', stage: 'chdir', path: notExecutable });
  });

  it('an unopenable stdio file names the file', () => {
    const file = path.join(dir, 'no-dir', 'out.txt');
    const e = spawnError({ program: 'true', stdout: { file } });
    expect(e).toMatchObject({ kind: 'NotFound', code: 'ENOENT', syscall: 'open', path: file });
  });

  it('a closed descriptor as stdio is EBADF', () => {
    const e = spawnError({ program: 'true', stdout: { fd: 987_654 } });
    expect(e).toMatchObject({ kind: 'SpawnFailed', code: 'EBADF' });
  });

  it('failed spawns leave no descriptor and no zombie', () => {
    const before = fdsOf('self').length;
    for (let i = 0; i < 200; i++) {
      spawnError({ program: notExecutable, stdout: 'pipe', stderr: 'pipe' });
      spawnError({ program: 'true', cwd: path.join(dir, 'nope'), stdin: 'pipe' });
    }
    expect(fdsOf('self').length).toBe(before);
    expect(zombieChildren()).toEqual([]);
  });
});

describe('bad input is InvalidCommand naming the field and value, before any syscall', () => {
  const cases: Array<[string, SpawnOptions | unknown, RegExp]> = [
    ['empty program', { program: '' }, /program: "" must not be empty/],
    ['NUL in program', { program: 'a\0b' }, /program: "a\\u0000b" must not contain a NUL/],
    ['NUL in an arg', { program: 'true', args: ['ok', 'x\0'] }, /args\[1\]/],
    ['non-string arg', { program: 'true', args: ['ok', 42] }, /args\[1\]: 42 must be a string/],
    ['args not an array', { program: 'true', args: 'oops' }, /args: "oops" must be an array/],
    ['NUL in env value', { program: 'true', env: { A: 'x\0y' } }, /env\.A/],
    ['= in env key', { program: 'true', env: { 'A=B': 'x' } }, /env key: "A=B"/],
    ['NUL in cwd', { program: 'true', cwd: '/tmp\0' }, /cwd/],
    [
      'unknown stdio spec',
      { program: 'true', stdout: 'pipez' },
      /stdout: "pipez" is not a stdio spec/,
    ],
    ['stdio object without fd or file', { program: 'true', stderr: { path: 'x' } }, /stderr/],
    ['negative fd', { program: 'true', stdin: { fd: -1 } }, /stdin\.fd: -1/],
    [
      'negative timeout',
      { program: 'true', timeout: -5 },
      /timeout: -5 must be a number of milliseconds in 0\.\.2147483647/,
    ],
    ['infinite killGrace', { program: 'true', killGrace: Number.POSITIVE_INFINITY }, /killGrace/],
    ['unknown killSignal', { program: 'true', killSignal: 'SIGFOO' }, /killSignal: "SIGFOO"/],
    ['bad processGroup', { program: 'true', processGroup: -3 }, /processGroup: -3/],
    ['group with session', { program: 'true', processGroup: 1, newSession: true }, /newSession/],
    ['options not an object', null, /options: null/],
  ];
  for (const [name, options, message] of cases) {
    it(`refuses ${name}`, () => {
      const before = fdsOf('self').length;
      let error: unknown;
      try {
        spawn(options as SpawnOptions);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ProcessError);
      expect((error as ProcessError).kind).toBe('InvalidCommand');
      expect((error as ProcessError).message).toMatch(message);
      expect(fdsOf('self').length).toBe(before);
    });
  }
});
