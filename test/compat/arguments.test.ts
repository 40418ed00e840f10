// Differential check of argument handling: every option key of spawn() crossed with a set of
// odd values (and the positional arguments of the other functions), each call made on
// node:child_process and on ours; the outcome (no throw, or the thrown class and code) must be
// the same. Children that did start are killed at once (only those with a pid: Node's kill()
// of a child whose spawn failed signals pid 0, i.e. our own process group).
import * as nodeCp from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as ours from '../../lib/child_process/index.js';

const VALUES: unknown[] = [
  undefined,
  null,
  0,
  1,
  -1,
  1.5,
  2 ** 31,
  Number.NaN,
  '',
  'x',
  'pipe',
  'ignore',
  'inherit',
  'SIGKILL',
  true,
  false,
  [],
  ['pipe'],
  {},
  () => {},
  Symbol('s'),
  10n,
  new URL('file:///tmp'),
  Buffer.from('/tmp'),
];
const KEYS = [
  'cwd',
  'env',
  'argv0',
  'stdio',
  'detached',
  'uid',
  'gid',
  'shell',
  'signal',
  'timeout',
  'killSignal',
  'serialization',
  'windowsHide',
  'windowsVerbatimArguments',
];

type Cp = typeof ours;

function outcome(call: () => unknown): string {
  try {
    const child = call() as {
      pid?: number;
      kill?: (s: string) => void;
      on?: (event: string, listener: () => void) => unknown;
    } | null;
    if (child && typeof child.kill === 'function') {
      child.on?.('error', () => {});
      if (typeof child.pid === 'number') child.kill('SIGKILL');
    }
    return 'ok';
  } catch (e) {
    return `${(e as Error).name}:${(e as { code?: string }).code}`;
  }
}

const show = (v: unknown) =>
  typeof v === 'symbol'
    ? 'Symbol'
    : typeof v === 'bigint'
      ? '10n'
      : (JSON.stringify(v) ?? String(v));

describe('argument handling matches node:child_process', () => {
  it.each(KEYS)('spawn option %s with every odd value', (key) => {
    const diffs: string[] = [];
    for (const v of VALUES) {
      const opts = { [key]: v, stdio: key === 'stdio' ? v : 'ignore' };
      const call = (cp: Cp) => () => cp.spawn('true', [], opts as never);
      const [a, b] = [outcome(call(nodeCp as unknown as Cp)), outcome(call(ours))];
      if (a !== b) diffs.push(`${key}=${show(v)}: node ${a}, ours ${b}`);
    }
    expect(diffs).toEqual([]);
  });

  const POSITIONAL: [string, (cp: Cp, v: unknown) => unknown][] = [
    ['spawn file', (cp, v) => cp.spawn(v as string)],
    ['spawn args', (cp, v) => cp.spawn('true', v as string[], { stdio: 'ignore' })],
    ['spawn options', (cp, v) => cp.spawn('true', [], v as never)],
    ['execFile maxBuffer', (cp, v) => cp.execFile('true', { maxBuffer: v as number })],
    ['exec command', (cp, v) => cp.exec(v as string)],
    ['spawnSync input', (cp, v) => cp.spawnSync('true', { input: v as string })],
    ['spawnSync maxBuffer', (cp, v) => cp.spawnSync('true', { maxBuffer: v as number })],
    ['spawnSync encoding', (cp, v) => cp.spawnSync('true', { encoding: v as 'utf8' })],
    ['execFileSync args', (cp, v) => cp.execFileSync('true', v as string[])],
    ['fork modulePath', (cp, v) => cp.fork(v as string, [], { stdio: 'ignore' } as never)],
  ];
  it.each(POSITIONAL)('%s with every odd value', (_name, call) => {
    const diffs: string[] = [];
    for (const v of VALUES) {
      const a = outcome(() => call(nodeCp as unknown as Cp, v));
      const b = outcome(() => call(ours, v));
      if (a !== b) diffs.push(`${show(v)}: node ${a}, ours ${b}`);
    }
    expect(diffs).toEqual([]);
  });
});
