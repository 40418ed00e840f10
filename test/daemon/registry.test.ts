// The daemon registry on a temp dir, checked on disk: one JSON file per daemon, written whole;
// dead and recycled entries pruned on read; corrupt files reported, skipped, left alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type DaemonEntry,
  DaemonRegistry,
  defaultRegistryDir,
  type RegistryProblem,
} from '../../lib/daemon/registry.js';
import { tempDir } from '../helpers.js';
import { deadPid, listDir, startTimeOf } from './helpers.js';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

function registry(): { reg: DaemonRegistry; problems: RegistryProblem[] } {
  const problems: RegistryProblem[] = [];
  const reg = new DaemonRegistry(tempDir('core-process-registry-'), {
    onProblem: (p) => problems.push(p),
  });
  return { reg, problems };
}

function entry(code: string, daemon: string, extra: Partial<DaemonEntry> = {}): DaemonEntry {
  return { code, daemon, pid: process.pid, startedAt: new Date().toISOString(), ...extra };
}

const onDisk = (reg: DaemonRegistry, name: string) =>
  JSON.parse(readFileSync(path.join(reg.dir, name), 'utf8')) as Record<string, unknown>;

describe('DaemonRegistry.register', () => {
  it('good: writes <code>--<daemon>.json with the start time from /proc, and no temp file', () => {
    const { reg } = registry();
    reg.register(entry('shop', 'web', { health: 'http://127.0.0.1:9000', project: '/srv/shop' }));
    expect(listDir(reg.dir)).toEqual(['shop--web.json']);
    expect(onDisk(reg, 'shop--web.json')).toMatchObject({
      code: 'shop',
      daemon: 'web',
      pid: process.pid,
      startTime: startTimeOf(process.pid),
      health: 'http://127.0.0.1:9000',
      project: '/srv/shop',
    });
  });

  it('good: registering again replaces the entry', () => {
    const { reg } = registry();
    reg.register(entry('shop', 'web', { health: 'http://127.0.0.1:1' }));
    reg.register(entry('shop', 'web', { health: 'http://127.0.0.1:2' }));
    expect(listDir(reg.dir)).toEqual(['shop--web.json']);
    expect(reg.get('shop', 'web')?.health).toBe('http://127.0.0.1:2');
  });

  it('bad: a code or daemon that is not a plain name is refused, naming the value', () => {
    const { reg } = registry();
    for (const [code, daemon, bad] of [
      ['../etc', 'web', '"../etc"'],
      ['shop', 'a b', '"a b"'],
      ['-x', 'web', '"-x"'],
      ['shop', '', '""'],
      ['a--b', 'c', '"a--b"'],
    ] as const) {
      expect(() => reg.register(entry(code, daemon))).toThrow(bad);
      expect(() => reg.get(code, daemon)).toThrow(bad);
      expect(() => reg.unregister(code, daemon)).toThrow(bad);
    }
    expect(listDir(reg.dir)).toEqual([]);
  });

  it('bad: a pid that is not running cannot be registered without a start time', () => {
    const { reg } = registry();
    const dead = deadPid();
    expect(() => reg.register(entry('shop', 'web', { pid: dead }))).toThrow(String(dead));
    expect(() => reg.register(entry('shop', 'web', { startedAt: 'yesterday' }))).toThrow(
      /startedAt/,
    );
    expect(listDir(reg.dir)).toEqual([]);
  });
});

describe('DaemonRegistry.get / list / unregister', () => {
  it('good: get, list sorted by code then daemon, unregister removes the file', () => {
    const { reg, problems } = registry();
    reg.register(entry('shop', 'worker'));
    reg.register(entry('blog', 'web'));
    reg.register(entry('shop', 'api'));
    expect(reg.get('shop', 'api')).toMatchObject({ code: 'shop', daemon: 'api', pid: process.pid });
    expect(reg.get('shop', 'nope')).toBeNull();
    expect(reg.list().map((e) => `${e.code}/${e.daemon}`)).toEqual([
      'blog/web',
      'shop/api',
      'shop/worker',
    ]);
    expect(reg.unregister('shop', 'api')).toBe(true);
    expect(existsSync(path.join(reg.dir, 'shop--api.json'))).toBe(false);
    expect(reg.unregister('shop', 'api')).toBe(false);
    expect(reg.list()).toHaveLength(2);
    expect(problems).toEqual([]);
  });

  it('good: a registry whose directory does not exist yet is empty', () => {
    const reg = new DaemonRegistry(path.join(tempDir(), 'not', 'yet'));
    expect(reg.list()).toEqual([]);
    expect(reg.get('a', 'b')).toBeNull();
  });

  it('bad: an entry whose pid is dead is pruned on read (the file is gone)', () => {
    const { reg, problems } = registry();
    reg.register(entry('shop', 'gone', { pid: deadPid(), startTime: '1' }));
    reg.register(entry('shop', 'alive'));
    expect(existsSync(path.join(reg.dir, 'shop--gone.json'))).toBe(true);
    expect(reg.get('shop', 'gone')).toBeNull();
    expect(existsSync(path.join(reg.dir, 'shop--gone.json'))).toBe(false);

    reg.register(entry('shop', 'gone', { pid: deadPid(), startTime: '1' }));
    expect(reg.list().map((e) => e.daemon)).toEqual(['alive']);
    expect(listDir(reg.dir)).toEqual(['shop--alive.json']);
    expect(problems).toEqual([]);
  });

  it('bad: a recycled pid (alive, another start time) is pruned', () => {
    const { reg } = registry();
    const wrong = String(Number(startTimeOf(process.ppid)) + 1);
    reg.register(entry('shop', 'old', { pid: process.ppid, startTime: wrong }));
    reg.register(entry('shop', 'parent', { pid: process.ppid }));
    expect(reg.list().map((e) => e.daemon)).toEqual(['parent']);
    expect(listDir(reg.dir)).toEqual(['shop--parent.json']);
  });

  it('ugly: an entry without startTime (written by another tool) is judged by the pid alone', () => {
    const { reg } = registry();
    const rest = entry('shop', 'plain');
    writeFileSync(path.join(reg.dir, 'shop--plain.json'), JSON.stringify(rest));
    expect(reg.get('shop', 'plain')).toMatchObject({ pid: process.pid });
    writeFileSync(
      path.join(reg.dir, 'shop--plain.json'),
      JSON.stringify({ ...rest, pid: deadPid() }),
    );
    expect(reg.get('shop', 'plain')).toBeNull();
    expect(listDir(reg.dir)).toEqual([]);
  });

  it('ugly: corrupt JSON and schema-invalid files are reported, skipped and left in place', () => {
    const { reg, problems } = registry();
    reg.register(entry('shop', 'good'));
    const files = {
      'shop--badjson.json': '{"code": "shop", ',
      'shop--schema.json': JSON.stringify({ code: 'shop', daemon: 'schema', pid: 'twelve' }),
      'shop--misnamed.json': JSON.stringify(entry('other', 'name')),
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(reg.dir, name), text);
    writeFileSync(path.join(reg.dir, 'notes.txt'), 'not an entry');

    expect(reg.list().map((e) => e.daemon)).toEqual(['good']);
    const reported = Object.fromEntries(problems.map((p) => [path.basename(p.file), p.message]));
    expect(Object.keys(reported).sort()).toEqual(Object.keys(files).sort());
    expect(reported['shop--badjson.json']).toMatch(/not JSON/);
    expect(reported['shop--schema.json']).toMatch(/pid/);
    expect(reported['shop--misnamed.json']).toMatch(/other--name\.json/);
    for (const p of problems) expect(path.isAbsolute(p.file)).toBe(true);
    for (const name of Object.keys(files)) expect(existsSync(path.join(reg.dir, name))).toBe(true);

    problems.length = 0;
    expect(reg.get('shop', 'badjson')).toBeNull();
    expect(problems.map((p) => path.basename(p.file))).toEqual(['shop--badjson.json']);
  });

  it('ugly: without onProblem, a corrupt file is one line on stderr', () => {
    const dir = tempDir('core-process-registry-');
    writeFileSync(path.join(dir, 'a--b.json'), 'nope');
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(new DaemonRegistry(dir).list()).toEqual([]);
    expect(write).toHaveBeenCalledTimes(1);
    expect(String(write.mock.calls[0]?.[0])).toMatch(/a--b\.json: not JSON.*\n$/);
  });
});

describe('defaultRegistryDir', () => {
  it('good: follows $XDG_STATE_HOME', () => {
    vi.stubEnv('XDG_STATE_HOME', '/var/state-here');
    expect(defaultRegistryDir()).toBe('/var/state-here/core-process/daemons');
    expect(new DaemonRegistry().dir).toBe('/var/state-here/core-process/daemons');
  });

  it('bad: without it (or with a relative one, which XDG says to ignore) uses ~/.local/state', () => {
    const fallback = path.join(homedir(), '.local', 'state', 'core-process', 'daemons');
    vi.stubEnv('XDG_STATE_HOME', '');
    expect(defaultRegistryDir()).toBe(fallback);
    vi.stubEnv('XDG_STATE_HOME', 'relative/dir');
    expect(defaultRegistryDir()).toBe(fallback);
  });
});
