// JsonlWriter, read back from disk: the path is anchored at the root (never the cwd), lines
// are whole, and 20 writers in 20 OS processes appending at once never interleave.
import cp from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { JsonlWriter } from '../../lib/events/jsonl.js';
import { tempDir } from '../helpers.js';
import { childEnv } from '../subprocess.js';
import {
  compiledJsonlWriter,
  readJsonl,
  removeCompiledJsonlWriter,
  validEvent,
} from './helpers.js';

const APPEND_FIXTURE = fileURLToPath(new URL('./fixtures/jsonl-append.mjs', import.meta.url));
const cwd = process.cwd();

afterEach(() => {
  process.chdir(cwd);
});

interface Writer {
  /** Settles once the child printed "ready" (or ended). */
  ready: Promise<void>;
  done: Promise<{ code: number | null; stderr: string }>;
}

// node:child_process, not the library under test, runs the writers.
function startWriter(args: string[]): Writer {
  const c = cp.spawn(process.execPath, [APPEND_FIXTURE, ...args], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  let stderr = '';
  let markReady = () => {};
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  c.stdout.setEncoding('utf8').on('data', (d: string) => {
    if (d.includes('ready')) markReady();
  });
  c.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    c.on('close', (code) => {
      markReady();
      resolve({ code, stderr });
    });
  });
  return { ready, done };
}
afterAll(() => {
  removeCompiledJsonlWriter();
});

describe('JsonlWriter (constructor)', () => {
  it('good: a relative path resolves against the root; the name is jsonl:<absolute path>', () => {
    const w = new JsonlWriter('logs/events.jsonl', '/srv/app');
    expect(w.path).toBe('/srv/app/logs/events.jsonl');
    expect(w.name).toBe('jsonl:/srv/app/logs/events.jsonl');
    expect(new JsonlWriter('/var/log/e.jsonl', '/srv/app').path).toBe('/var/log/e.jsonl');
  });

  it('bad: a relative root is refused with a TypeError naming it', () => {
    expect(() => new JsonlWriter('events.jsonl', 'relative/root')).toThrow(
      new TypeError('JsonlWriter: root must be an absolute directory path, got "relative/root"'),
    );
    expect(() => new JsonlWriter('', '/srv')).toThrow(TypeError);
  });

  it('ugly: dot segments are normalised, and a path may climb out of the root on purpose', () => {
    expect(new JsonlWriter('./a/../b.jsonl', '/srv/app/').path).toBe('/srv/app/b.jsonl');
    expect(new JsonlWriter('../shared/e.jsonl', '/srv/app').path).toBe('/srv/shared/e.jsonl');
  });
});

describe('JsonlWriter.deliver', () => {
  it('good: creates the parent directories and appends one parseable line per event', async () => {
    const root = tempDir('core-events-');
    const w = new JsonlWriter('deep/er/events.jsonl', root);
    const events = [validEvent({ n: 1 }), validEvent({ n: 2, text: 'line\nbreak "quoted"' })];
    for (const e of events) await w.deliver(e);
    const file = path.join(root, 'deep', 'er', 'events.jsonl');
    const raw = fs.readFileSync(file, 'utf8');
    expect(raw.split('\n')).toHaveLength(3); // two lines and the final newline
    expect(raw.endsWith('\n')).toBe(true);
    expect(readJsonl(file)).toEqual(events);
    expect(fs.statSync(path.join(root, 'deep')).isDirectory()).toBe(true);
    // 0644 and 0755 before the umask: nothing beyond those bits, ever.
    expect(fs.statSync(file).mode & 0o777 & ~0o644).toBe(0);
    expect(fs.statSync(path.join(root, 'deep')).mode & 0o777 & ~0o755).toBe(0);
  });

  it('good: a relative path still lands under the root after process.chdir elsewhere', async () => {
    const root = tempDir('core-events-root-');
    const elsewhere = tempDir('core-events-cwd-');
    const w = new JsonlWriter('.core-process/events.jsonl', root);
    process.chdir(elsewhere);
    await w.deliver(validEvent());
    expect(readJsonl(path.join(root, '.core-process', 'events.jsonl'))).toHaveLength(1);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });

  it('good: appends to what is already in the file', async () => {
    const root = tempDir('core-events-');
    const file = path.join(root, 'e.jsonl');
    fs.writeFileSync(file, '{"earlier":true}\n');
    await new JsonlWriter('e.jsonl', root).deliver(validEvent());
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines[0]).toBe('{"earlier":true}');
    expect(JSON.parse(lines[1] as string)).toEqual(validEvent());
  });

  it('bad: an unwritable target rejects with the path, and the next delivery still runs', async () => {
    const root = tempDir('core-events-');
    const w = new JsonlWriter('e.jsonl', root);
    fs.mkdirSync(path.join(root, 'e.jsonl')); // a directory where the file should be
    await expect(w.deliver(validEvent())).rejects.toThrow(/EISDIR.*e\.jsonl/);
    fs.rmdirSync(path.join(root, 'e.jsonl'));
    await w.deliver(validEvent({ after: true }));
    expect(readJsonl(path.join(root, 'e.jsonl'))).toEqual([validEvent({ after: true })]);
  });

  it('bad: an already aborted signal writes nothing', async () => {
    const root = tempDir('core-events-');
    const w = new JsonlWriter('e.jsonl', root);
    await expect(w.deliver(validEvent(), AbortSignal.abort())).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(fs.existsSync(w.path)).toBe(false);
  });

  it('ugly: 20 concurrent deliveries in one process give 20 whole lines in call order', async () => {
    const root = tempDir('core-events-');
    const w = new JsonlWriter('e.jsonl', root);
    const filler = 'x'.repeat(8192);
    await Promise.all(Array.from({ length: 20 }, (_, i) => w.deliver(validEvent({ i, filler }))));
    const lines = readJsonl(w.path);
    expect(lines.map((l) => l.payload.i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(lines.every((l) => l.payload.filler === filler)).toBe(true);
  });

  it('ugly: 20 OS processes appending 8 KiB lines at once never interleave', async () => {
    const writerUrl = compiledJsonlWriter();
    const root = tempDir('core-events-');
    const file = path.join(root, 'shared', 'events.jsonl');
    const goFile = path.join(root, 'go');
    const WRITERS = 20;
    const LINES = 50;
    const BYTES = 8192; // twice PIPE_BUF: atomicity here is not the pipe guarantee
    const writers = Array.from({ length: WRITERS }, (_, n) =>
      startWriter([writerUrl, file, String(n), String(LINES), String(BYTES), goFile]),
    );
    // Start them all together, once every one has loaded the writer.
    await Promise.all(writers.map((w) => w.ready));
    fs.writeFileSync(goFile, '');
    const outcomes = await Promise.all(writers.map((w) => w.done));
    for (const o of outcomes) expect(o, o.stderr).toMatchObject({ code: 0 });

    const lines = readJsonl(file); // throws on the first torn line
    expect(lines).toHaveLength(WRITERS * LINES);
    const seen = new Set<string>();
    for (const l of lines) {
      const { writer, seq, filler } = l.payload as { writer: number; seq: number; filler: string };
      expect(filler).toBe(String(writer % 10).repeat(BYTES));
      seen.add(`${writer}:${seq}`);
    }
    expect(seen.size).toBe(WRITERS * LINES);
    // Each writer's own lines stay in its order.
    for (let n = 0; n < WRITERS; n++) {
      const mine = lines.filter((l) => l.payload.writer === n).map((l) => l.payload.seq);
      expect(mine).toEqual(Array.from({ length: LINES }, (_, i) => i));
    }
  });
});
