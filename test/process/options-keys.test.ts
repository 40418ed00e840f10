// Unknown option keys are refused before anything starts: a typo in a security option must
// never run the child unconfined. "Nothing started" is observed as no new child of ours.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProcessError, run, spawn } from '../../lib/index.js';
import { editDistance, nearestKey } from '../../lib/process/keys.js';
import { thrown } from '../helpers.js';

function childrenOfUs(): number[] {
  const me = String(process.pid);
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === me;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe('unknown option keys', () => {
  it('spawn with a typo of an option names the key and the nearest known one, and starts nothing', () => {
    const before = childrenOfUs().length;
    const e = thrown(ProcessError, () =>
      spawn({ program: 'true', limts: { pids: 4 } } as unknown as Parameters<typeof spawn>[0]),
    );
    expect(e.kind).toBe('InvalidCommand');
    expect(e.field).toBe('limts');
    expect(e.message).toMatch(/^invalid limts: /);
    expect(e.message).toMatch(/not a spawn option/);
    expect(childrenOfUs().length).toBe(before);
  });

  it('spawn suggests the nearest known key (nwSession -> newSession)', () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: 'true', nwSession: true } as unknown as Parameters<typeof spawn>[0]),
    );
    expect(e.message).toContain("did you mean 'newSession'?");
  });

  it('a key far from every known one lists the known keys instead of guessing', () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: 'true', zzzzzzzzzzzz: 1 } as unknown as Parameters<typeof spawn>[0]),
    );
    expect(e.message).toMatch(/known: program, args/);
  });

  it('a key present with an undefined value is refused too', () => {
    const e = thrown(ProcessError, () =>
      spawn({ program: 'true', sandbx: undefined } as unknown as Parameters<typeof spawn>[0]),
    );
    expect(e.field).toBe('sandbx');
  });

  it('run rejects an unknown key, suggesting a run-only option (maxBufer -> maxBuffer)', async () => {
    const err = await run('true', [], { maxBufer: 10 } as unknown as Parameters<
      typeof run
    >[2]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProcessError);
    expect((err as ProcessError).kind).toBe('InvalidCommand');
    expect((err as ProcessError).message).toContain("did you mean 'maxBuffer'?");
  });

  it('run refuses program as an option (it is a parameter there)', async () => {
    const err = await run('true', [], { program: 'false' } as unknown as Parameters<
      typeof run
    >[2]).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as ProcessError).field).toBe('program');
  });

  it('every documented option still passes', async () => {
    const r = await run('true', [], {
      cwd: '/',
      env: { A: '1' },
      timeout: 5000,
      killGrace: 100,
      killSignal: 'SIGTERM',
      newSession: false,
      inheritScheduling: false,
      containment: 'none',
      dieWithParent: false,
      reject: true,
      encoding: 'utf8',
      all: false,
      maxBuffer: 1024,
    });
    expect(r.status.code).toBe(0);
  });

  it('edit distance and nearest key', () => {
    expect(editDistance('sandbx', 'sandbox')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(nearestKey('limts', ['limits', 'nice'])).toBe('limits');
    expect(nearestKey('xyzzy', ['limits', 'nice'])).toBeUndefined();
  });
});
