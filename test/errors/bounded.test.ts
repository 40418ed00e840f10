// Error messages quote the offending value bounded: whatever a caller passes, the message that
// reaches a log line or an HTTP body stays a few hundred characters, and still says what the
// value was (its type and size) and which option it came from.
import { expect, it, describe as suite } from 'vitest';
import { describe } from '../../lib/errors.js';
import { ProcessError, type SpawnOptions, spawn } from '../../lib/index.js';
import { createThread } from '../../lib/thread/create.js';
import { thrown } from '../helpers.js';

function spawnFailure(options: unknown): ProcessError {
  return thrown(ProcessError, () => spawn(options as SpawnOptions).kill('SIGKILL'));
}

suite('spawn option errors', () => {
  it('a megabyte Buffer inside stdout is named by type and size, not spelled out', () => {
    const e = spawnFailure({ program: 'true', stdout: { weird: Buffer.alloc(1 << 20) } });
    expect(e.kind).toBe('InvalidCommand');
    expect(e.message.length).toBeLessThan(500);
    expect(e.message).toContain('stdout');
    expect(e.message).toContain('weird');
    expect(e.message).toContain('<Buffer 1048576 bytes>');
  });

  it('a long string keeps its head and its length', () => {
    const e = spawnFailure({ program: 'true', killSignal: `SIG${'X'.repeat(1_000_000)}` });
    expect(e.field).toBe('killSignal');
    expect(e.message.length).toBeLessThan(500);
    expect(e.message).toContain('"SIGXXX');
    expect(e.message).toContain('(1000003 chars)');
  });

  it('a big array shows its first items and counts the rest', () => {
    const e = spawnFailure({
      program: 'true',
      stdout: Array.from({ length: 100_000 }, (_, i) => i),
    });
    expect(e.message.length).toBeLessThan(500);
    expect(e.message).toContain('[0,1,2,3,4,… 99995 more]');
  });

  it('a typed array is its type and byte size', () => {
    const e = spawnFailure({ program: 'true', stdout: new Float64Array(2) });
    expect(e.message).toContain('<Float64Array 16 bytes>');
  });

  it('a cyclic object is quoted without looping or throwing', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    const e = spawnFailure({ program: 'true', stdout: o });
    expect(e.kind).toBe('InvalidCommand');
    expect(e.message).toContain('[Circular]');
  });
});

suite('describe', () => {
  it('shows small values as JSON does, so ordinary messages read as before', () => {
    expect(describe('sleep')).toBe('"sleep"');
    expect(describe([0, 1])).toBe('[0,1]');
    expect(describe({ file: '/tmp/x', append: 'yes' })).toBe('{"file":"/tmp/x","append":"yes"}');
    expect(describe(null)).toBe('null');
    expect(describe(-1)).toBe('-1');
  });

  it('names functions, symbols and bigints instead of dropping or throwing on them', () => {
    expect(describe(function onExit() {})).toBe('[Function onExit]');
    expect(describe(Symbol('tag'))).toBe('Symbol(tag)');
    expect(describe(10n ** 30n)).toBe('1000000000000000000000000000000n');
    expect(describe({ n: 1n })).toBe('{"n":1n}');
  });

  it('elides deep nesting and bounds many wide members as a whole', () => {
    expect(describe({ a: { b: { c: { d: { e: 1 } } } } })).toBe('{"a":{"b":{"c":{…}}}}');
    const wide = Object.fromEntries(
      Array.from({ length: 1000 }, (_, i) => [`key${i}`, 'v'.repeat(1000)]),
    );
    const shown = describe(wide);
    expect(shown.length).toBeLessThan(300);
    expect(shown).toMatch(/… 99\d more\}$/);
    const nested = Array.from({ length: 100 }, () =>
      Array.from({ length: 100 }, () => 'z'.repeat(1000)),
    );
    expect(describe(nested).length).toBeLessThan(300);
  });

  it('never cuts a surrogate pair in half', () => {
    const shown = describe(`a${'😀'.repeat(10_000)}`);
    expect(shown).toContain('(20001 chars)');
    // Half a pair would be escaped by JSON (\\ud83d) or turn into U+FFFD once encoded.
    expect(shown).not.toMatch(/\\u[dD][89abAB]/);
    expect(Buffer.from(shown).toString()).toBe(shown);
  });
});

suite('thread option errors', () => {
  it('a megabyte thread name is quoted short', async () => {
    const name = 'n'.repeat(1 << 20);
    const err = await createThread(new URL('data:text/javascript,export default () => 1'), {
      name: `${name}\0`,
    }).then(
      () => new Error('createThread did not fail'),
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain('name');
    expect(err.message.length).toBeLessThan(500);
  });
});
