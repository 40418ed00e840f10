// Differential check of what a bad argument throws: the running node:child_process and ours
// make the same call, and the thrown error must be the same class, `code` and message (the
// message follows the running Node line, which words some checks differently: Node 26's
// timeout and maxBuffer). No child is left running: every call here throws, or its child is
// killed at once.
import * as nodeCp from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as ours from '../../lib/child_process/index.js';

type Cp = typeof ours;

function thrown(call: () => unknown): string {
  try {
    const r = call() as { catch?: (f: () => void) => void; kill?: () => void; pid?: number };
    r?.catch?.(() => {});
    if (typeof r?.pid === 'number') r.kill?.();
    return 'no throw';
  } catch (e) {
    return `${(e as Error).constructor.name} ${(e as { code?: string }).code}: ${(e as Error).message}`;
  }
}

const CASES: [string, (cp: Cp) => unknown][] = [
  ['NUL in file', (cp) => cp.spawn('a\0b')],
  ['NUL in an argument', (cp) => cp.spawn('echo', ['ok', 'a\0b'])],
  ['NUL in an env key', (cp) => cp.spawn('echo', [], { env: { 'K\0': 'v' } })],
  ['NUL in an env value', (cp) => cp.spawn('echo', [], { env: { K: 'v\0' } })],
  ['NUL in cwd (string)', (cp) => cp.spawn('echo', [], { cwd: '/tmp\0' })],
  ['NUL in cwd (Buffer)', (cp) => cp.spawn('echo', [], { cwd: Buffer.from('/tmp\0') })],
  ['NUL in shell', (cp) => cp.spawn('echo', [], { shell: '/bin/sh\0' })],
  ['NUL in argv0', (cp) => cp.spawn('echo', [], { argv0: 'e\0' })],
  ['NUL in spawnSync file', (cp) => cp.spawnSync('a\0b')],
  ['NUL in a spawnSync argument', (cp) => cp.spawnSync('echo', ['a\0b'])],
  ['NUL in an execFile argument', (cp) => cp.execFile('echo', ['a\0b'], () => {})],
  ['NUL in exec command', (cp) => cp.exec('echo \0', () => {})],
  ['NUL in execSync command', (cp) => cp.execSync('echo \0')],
  ['NUL in an execFileSync argument', (cp) => cp.execFileSync('echo', ['\0'])],
  ['NUL in fork modulePath', (cp) => cp.fork('a\0')],
  ['NUL in fork modulePath (URL)', (cp) => cp.fork(new URL('file:///tmp/a%00b'))],
  ['NUL in fork modulePath (Buffer)', (cp) => cp.fork(Buffer.from('a\0') as never)],
  ['NUL in a fork argument', (cp) => cp.fork('x.js', ['\0'])],
  ['NUL in fork execPath', (cp) => cp.fork('x.js', { execPath: 'n\0' })],
  ['NUL in fork execArgv', (cp) => cp.fork('x.js', { execArgv: ['--a', '\0'] })],
  [
    'promisified exec, signal not an AbortSignal',
    (cp) => promisify(cp.exec)('echo', { signal: {} } as never),
  ],
  [
    'promisified execFile, signal a string',
    (cp) => promisify(cp.execFile)('echo', [], { signal: 'x' } as never),
  ],
  ['promisified exec, negative timeout', (cp) => promisify(cp.exec)('echo', { timeout: -1 })],
  ['promisified execFile, bad args', (cp) => promisify(cp.execFile)('echo', 1 as never)],
  ['spawn signal 1', (cp) => cp.spawn('echo', { signal: 1 } as never)],
  ['execFile signal 1', (cp) => cp.execFile('echo', { signal: 1 } as never, () => {})],
  ['fork signal 1', (cp) => cp.fork('x.js', { signal: 1 } as never)],
  ['timeout -1', (cp) => cp.spawn('echo', { timeout: -1 })],
  ["timeout '1'", (cp) => cp.spawn('echo', { timeout: '1' } as never)],
  ['timeout 1.5', (cp) => cp.spawn('echo', { timeout: 1.5 })],
  ['timeout Infinity', (cp) => cp.spawn('echo', { timeout: Number.POSITIVE_INFINITY })],
  ['execFile timeout -1', (cp) => cp.execFile('echo', { timeout: -1 }, () => {})],
  ['execFileSync timeout -1', (cp) => cp.execFileSync('echo', { timeout: -1 })],
  ['spawnSync timeout 1.5', (cp) => cp.spawnSync('echo', { timeout: 1.5 })],
  ['killSignal unknown name', (cp) => cp.spawn('echo', { killSignal: 'SIGNOPE' })],
  ['killSignal an object', (cp) => cp.spawn('echo', { killSignal: {} } as never)],
  ['execFile killSignal unknown', (cp) => cp.execFile('echo', { killSignal: 'NOPE' }, () => {})],
  ['spawnSync killSignal 0', (cp) => cp.spawnSync('echo', { killSignal: 0 })],
  ['execFile maxBuffer -1', (cp) => cp.execFile('echo', { maxBuffer: -1 }, () => {})],
  ["execFile maxBuffer '1'", (cp) => cp.execFile('echo', { maxBuffer: '1' } as never, () => {})],
  ['execFile maxBuffer NaN', (cp) => cp.execFile('echo', { maxBuffer: Number.NaN }, () => {})],
  ['spawnSync maxBuffer -1', (cp) => cp.spawnSync('echo', { maxBuffer: -1 })],
  ["spawnSync maxBuffer '1'", (cp) => cp.spawnSync('echo', { maxBuffer: '1' } as never)],
  ['serialization unknown', (cp) => cp.spawn('echo', { serialization: 'x' } as never)],
  ['fork serialization unknown', (cp) => cp.fork('x.js', { serialization: 'x' } as never)],
];

describe(`thrown errors match the running node:child_process (Node ${process.versions.node})`, () => {
  it.each(CASES)('%s', (_name, call) => {
    const expected = thrown(() => call(nodeCp as unknown as Cp));
    // A case Node accepts proves nothing about validation: the table must hold only refusals.
    expect(expected).not.toBe('no throw');
    expect(thrown(() => call(ours))).toBe(expected);
  });
});
