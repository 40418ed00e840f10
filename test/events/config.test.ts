// loadSubscribers, from real files in a temporary project root: the default, the explicit
// opt-out, every subscriber type, the file precedence, and errors that name file and field.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENTS_PATH, EventConfigError, loadSubscribers } from '../../lib/events/config.js';
import { Exec } from '../../lib/events/exec.js';
import { JsonlWriter } from '../../lib/events/jsonl.js';
import { NoOp } from '../../lib/events/noop.js';
import { tempDir } from '../helpers.js';
import { readJsonl, validEvent } from './helpers.js';

function project(files: Record<string, string> = {}): string {
  const root = tempDir('core-events-config-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(root, name), text);
  return root;
}

async function configError(root: string): Promise<EventConfigError> {
  try {
    await loadSubscribers(root);
  } catch (e) {
    expect(e).toBeInstanceOf(EventConfigError);
    return e as EventConfigError;
  }
  throw new Error('expected loadSubscribers to reject');
}

function expectDefault(subs: unknown[], root: string): void {
  expect(subs).toHaveLength(1);
  expect(subs[0]).toBeInstanceOf(JsonlWriter);
  expect((subs[0] as JsonlWriter).path).toBe(path.join(root, '.specscore', 'events.jsonl'));
}

describe('loadSubscribers', () => {
  it('good: no config file: one JsonlWriter writing <root>/.specscore/events.jsonl (seed 003)', async () => {
    const root = project();
    const subs = await loadSubscribers(root);
    expectDefault(subs, root);
    expect(DEFAULT_EVENTS_PATH).toBe('.specscore/events.jsonl');
    await subs[0]?.deliver(validEvent());
    expect(readJsonl(path.join(root, '.specscore', 'events.jsonl'))).toEqual([validEvent()]);
  });

  it("good: specscore.yaml (the seed's file) is read first, before core-process.yaml", async () => {
    const root = project({
      'specscore.yaml': 'events:\n  subscribers:\n    - type: noop\n',
      'core-process.yaml': 'events:\n  subscribers: []\n',
    });
    const subs = await loadSubscribers(root);
    expect(subs.map((s) => s.name)).toEqual(['noop']);
    const bad = project({ 'specscore.yaml': 'events:\n  subscribers:\n    - type: kafka\n' });
    await expect(loadSubscribers(bad)).rejects.toThrow(
      /^specscore.yaml: events.subscribers.0.type/,
    );
  });

  it('good: a file without an events key gives the default too', async () => {
    const root = project({ 'core-process.yaml': 'daemon:\n  restart: always\n' });
    expectDefault(await loadSubscribers(root), root);
  });

  it('good: an explicit empty list means no subscriber at all', async () => {
    const root = project({ 'core-process.yaml': 'events:\n  subscribers: []\n' });
    expect(await loadSubscribers(root)).toEqual([]);
  });

  it('good: YAML with all three types builds them in order, paths anchored at the root', async () => {
    const root = project({
      'core-process.yaml': [
        'events:',
        '  subscribers:',
        '    - type: jsonl',
        '      path: logs/audit.jsonl',
        '    - type: noop',
        '    - type: exec',
        '      argv: [./hooks/notify, --channel, ops]',
        '      env: { NOTIFY_CHANNEL: ops }',
        '      timeoutMs: 2000',
        '    - { type: exec, argv: [/bin/true] }',
        '',
      ].join('\n'),
    });
    const subs = await loadSubscribers(root);
    expect(subs.map((s) => s.constructor)).toEqual([JsonlWriter, NoOp, Exec, Exec]);
    expect(subs.map((s) => s.name)).toEqual([
      `jsonl:${path.join(root, 'logs', 'audit.jsonl')}`,
      'noop',
      'exec:./hooks/notify --channel ops',
      'exec:/bin/true',
    ]);
    expect(subs[2]).toMatchObject({ env: { NOTIFY_CHANNEL: 'ops' }, timeoutMs: 2000 });
    expect(subs[3]).toMatchObject({ env: {}, timeoutMs: 5000 });
  });

  it('good: the .json variant, and the .yml one, are read when there is no .yaml', async () => {
    const json = project({
      'core-process.json': JSON.stringify({ events: { subscribers: [{ type: 'noop' }] } }),
    });
    expect(await loadSubscribers(json)).toEqual([new NoOp()]);
    const yml = project({ 'core-process.yml': 'events: { subscribers: [ { type: noop } ] }\n' });
    expect((await loadSubscribers(yml)).map((s) => s.name)).toEqual(['noop']);
  });

  it('good: .yaml wins over .yml and .json when several exist', async () => {
    const root = project({
      'core-process.yaml': 'events: { subscribers: [] }\n',
      'core-process.yml': 'events: { subscribers: [ { type: noop } ] }\n',
      'core-process.json': '{ "events": { "subscribers": [ { "type": "noop" } ] } }',
    });
    expect(await loadSubscribers(root)).toEqual([]);
  });

  it('bad: timeoutMs 50 names the file and the field path', async () => {
    const root = project({
      'core-process.yaml': [
        'events:',
        '  subscribers:',
        '    - type: noop',
        '    - type: exec',
        '      argv: [notify]',
        '      timeoutMs: 50',
        '',
      ].join('\n'),
    });
    const e = await configError(root);
    expect(e.message).toBe(
      'core-process.yaml: events.subscribers.1.timeoutMs: must be between 100 and 30000 (got 50)',
    );
    expect(e.field).toBe('events.subscribers.1.timeoutMs');
    expect(e.file).toBe(path.join(root, 'core-process.yaml'));
  });

  it('bad: an unknown type names the type field and the value', async () => {
    const root = project({
      'core-process.yaml': 'events:\n  subscribers:\n    - type: kafka\n      topic: x\n',
    });
    const e = await configError(root);
    expect(e.message).toBe(
      'core-process.yaml: events.subscribers.0.type: must be one of jsonl, noop, exec (got "kafka")',
    );
    expect(e.field).toBe('events.subscribers.0.type');
  });

  it('bad: a YAML syntax error names the file and the line and column', async () => {
    const root = project({
      'core-process.yaml': 'events:\n  subscribers:\n    - type: noop\n   bad: [unclosed\n',
    });
    const e = await configError(root);
    expect(e.message).toMatch(/^core-process\.yaml: line \d+, column \d+: invalid YAML: /);
    expect(e.field).toMatch(/^line \d+, column \d+$/);
  });

  it('bad: a JSON syntax error names the file and the position', async () => {
    const root = project({ 'core-process.json': '{\n  "events": {,}\n}' });
    const e = await configError(root);
    expect(e.message).toMatch(/^core-process\.json: line 2, column 14: invalid JSON: /);
  });

  it('bad: wrong shapes name the offending field', async () => {
    const cases: Array<[string, string]> = [
      ['events: []\n', 'core-process.yaml: events: must be a mapping (got a list)'],
      ['events: {}\n', 'core-process.yaml: events.subscribers: is required'],
      [
        'events:\n  subscribers:\n    - { type: exec, argv: [x], timeout: 500 }\n',
        'core-process.yaml: events.subscribers.0.timeout: is not a known key',
      ],
      [
        'events:\n  subscribers:\n    - { type: exec, argv: [] }\n',
        'core-process.yaml: events.subscribers.0.argv: must list the program and its arguments (got an empty list)',
      ],
      [
        'events:\n  subscribers:\n    - { type: exec, argv: [x], env: { A: 1 } }\n',
        'core-process.yaml: events.subscribers.0.env.A: must be a string (got 1)',
      ],
      [
        'events:\n  subscribers:\n    - { type: exec, argv: [x], timeoutMs: 150.5 }\n',
        'core-process.yaml: events.subscribers.0.timeoutMs: must be a whole number (got 150.5)',
      ],
      [
        'events:\n  subscribers:\n    - { type: exec, argv: [x], env: { "A=B": x } }\n',
        "core-process.yaml: events.subscribers.0.env.A=B: is not a valid key: must be a variable name without '=' or NUL",
      ],
      [
        'events:\n  subscribers:\n    - { type: jsonl }\n',
        'core-process.yaml: events.subscribers.0.path: is required',
      ],
      ['- just\n- a list\n', 'core-process.yaml: must be a mapping (got a list)'],
    ];
    for (const [text, message] of cases) {
      const e = await configError(project({ 'core-process.yaml': text }));
      expect(e.message).toBe(message);
    }
  });

  it('ugly: an empty file, or `events:` with no value, count as no events key', async () => {
    const empty = project({ 'core-process.yaml': '' });
    expectDefault(await loadSubscribers(empty), empty);
    const bare = project({ 'core-process.yaml': 'events:\n' });
    expectDefault(await loadSubscribers(bare), bare);
  });

  it('ugly: a relative root is refused, as the cwd would silently move the files', async () => {
    await expect(loadSubscribers('relative/project')).rejects.toThrow(
      new TypeError(
        'loadSubscribers: root must be an absolute directory path, got "relative/project"',
      ),
    );
  });

  it('ugly: a config path that is a directory is an EventConfigError naming it', async () => {
    const root = project();
    fs.mkdirSync(path.join(root, 'core-process.yaml'));
    const e = await configError(root);
    expect(e.message).toMatch(/^core-process\.yaml: cannot read: EISDIR/);
    expect(e.field).toBe('');
  });
});
