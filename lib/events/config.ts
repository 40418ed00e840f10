/**
 * The `events` block of specscore.yaml (seed 003 LoadSubscribers), else of our own
 * core-process.yaml (or .yml, or .json): which subscribers an event goes to. No file, or no
 * `events` key, means the JSONL default at the seed's `.specscore/events.jsonl`; an explicit
 * empty list means none.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parseDocument } from 'yaml';
import * as z from 'zod';
import { describe } from '../errors.js';
import { Exec } from './exec.js';
import { JsonlWriter } from './jsonl.js';
import { NoOp } from './noop.js';
import type { Subscriber } from './subscriber.js';

/** Where events go when nothing is configured, relative to the project root. */
export const DEFAULT_EVENTS_PATH = '.specscore/events.jsonl';

/**
 * Looked for in this order; the first that exists is the configuration. specscore.yaml is the
 * seed's file; the core-process ones are ours, kept for projects that already have them.
 */
const CONFIG_FILES = [
  'specscore.yaml',
  'core-process.yaml',
  'core-process.yml',
  'core-process.json',
] as const;

const TIMEOUT_MIN_MS = 100;
const TIMEOUT_MAX_MS = 30_000;

/**
 * A configuration file that cannot be used. `field` is the dotted path of the offending
 * value (`events.subscribers.1.timeoutMs`), `line L, column C` for a syntax error, or ''
 * when the whole file is at fault.
 * @example
 * try { await loadSubscribers(root); } catch (e) {
 *   if (e instanceof EventConfigError) console.error(e.message);
 *   // core-process.yaml: events.subscribers.1.timeoutMs: must be between 100 and 30000 (got 50)
 * }
 */
export class EventConfigError extends Error {
  /** The absolute path of the configuration file. */
  readonly file: string;
  readonly field: string;

  constructor(file: string, field: string, reason: string) {
    const base = file.slice(file.lastIndexOf('/') + 1);
    super(field === '' ? `${base}: ${reason}` : `${base}: ${field}: ${reason}`);
    this.name = 'EventConfigError';
    this.file = file;
    this.field = field;
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return describe(value);
}

const jsonlSchema = z.strictObject({
  type: z.literal('jsonl'),
  path: z.string().min(1, { error: 'must be a non-empty file path' }),
});

const noopSchema = z.strictObject({ type: z.literal('noop') });

const execSchema = z.strictObject({
  type: z.literal('exec'),
  argv: z
    .array(z.string())
    .min(1, { error: 'must list the program and its arguments (got an empty list)' })
    .refine((argv) => argv[0] !== '', { error: 'must start with a program name', path: [0] }),
  env: z
    .record(
      z.string().regex(/^[^=\0]+$/, { error: "must be a variable name without '=' or NUL" }),
      z.string(),
    )
    .optional(),
  timeoutMs: z
    .number()
    .int()
    .min(TIMEOUT_MIN_MS, {
      error: (issue) =>
        `must be between ${TIMEOUT_MIN_MS} and ${TIMEOUT_MAX_MS} (got ${show(issue.input)})`,
    })
    .max(TIMEOUT_MAX_MS, {
      error: (issue) =>
        `must be between ${TIMEOUT_MIN_MS} and ${TIMEOUT_MAX_MS} (got ${show(issue.input)})`,
    })
    .optional(),
});

const subscriberSchema = z.discriminatedUnion('type', [jsonlSchema, noopSchema, execSchema]);
const SUBSCRIBER_TYPES = ['jsonl', 'noop', 'exec'];

// Loose at the top: the file configures other parts of core-process too. Strict below, so a
// misspelt key (`timeout:` for `timeoutMs:`) is an error rather than silently ignored.
const fileSchema = z.looseObject({
  events: z
    .strictObject({
      subscribers: z.array(subscriberSchema),
    })
    .nullish(),
});

type SubscriberConfig = z.infer<typeof subscriberSchema>;

const TYPE_WORDS: Readonly<Record<string, string>> = {
  object: 'a mapping',
  array: 'a list',
  int: 'a whole number',
};

// zod's own wording ("Invalid input: expected array, received undefined") speaks about
// types; an operator editing YAML wants what the field must be and what it found.
function reasonOf(issue: z.core.$ZodIssue): { path: PropertyKey[]; reason: string } {
  const path = [...issue.path];
  const input = 'input' in issue ? issue.input : undefined;
  switch (issue.code) {
    case 'invalid_type':
      return {
        path,
        reason:
          input === undefined
            ? 'is required'
            : `must be ${TYPE_WORDS[issue.expected] ?? `a ${issue.expected}`} (got ${show(input)})`,
      };
    case 'invalid_union': {
      const entry =
        input !== null && typeof input === 'object' ? (input as { type?: unknown }) : {};
      return {
        path,
        reason:
          entry.type === undefined
            ? `is required (one of ${SUBSCRIBER_TYPES.join(', ')})`
            : `must be one of ${SUBSCRIBER_TYPES.join(', ')} (got ${show(entry.type)})`,
      };
    }
    case 'invalid_key':
      return { path, reason: `is not a valid key: ${issue.issues[0]?.message ?? issue.message}` };
    case 'unrecognized_keys':
      return { path: [...path, issue.keys[0] ?? ''], reason: 'is not a known key' };
    default:
      return { path, reason: issue.message };
  }
}

function toSubscriber(entry: SubscriberConfig, root: string): Subscriber {
  switch (entry.type) {
    case 'jsonl':
      return new JsonlWriter(entry.path, root);
    case 'noop':
      return new NoOp();
    case 'exec':
      return new Exec(entry.argv, {
        ...(entry.env !== undefined ? { env: entry.env } : {}),
        ...(entry.timeoutMs !== undefined ? { timeoutMs: entry.timeoutMs } : {}),
      });
  }
}

async function readFirst(root: string): Promise<{ file: string; text: string } | null> {
  for (const name of CONFIG_FILES) {
    const file = join(root, name);
    try {
      return { file, text: await readFile(file, 'utf8') };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue;
      throw new EventConfigError(file, '', `cannot read: ${(error as Error).message}`);
    }
  }
  return null;
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

function parse(file: string, text: string): unknown {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      const message = (error as Error).message;
      const at = /at position (\d+)/.exec(message);
      const where = at?.[1] !== undefined ? lineColumn(text, Number(at[1])) : '';
      throw new EventConfigError(file, where, `invalid JSON: ${message}`);
    }
  }
  const doc = parseDocument(text, { prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    const where = lineColumn(text, first.pos[0]);
    throw new EventConfigError(file, where, `invalid YAML: ${first.message.split('\n')[0]}`);
  }
  try {
    return doc.toJS();
  } catch (error) {
    // Alias bombs and the like parse as a document but cannot be turned into values.
    throw new EventConfigError(file, '', `invalid YAML: ${(error as Error).message}`);
  }
}

/**
 * Reads `<root>/specscore.yaml` (else `core-process.yaml`, `.yml`, `.json`) and builds its
 * subscribers. No file, or no `events` key: one JsonlWriter at `<root>/.specscore/events.jsonl`.
 * `events: { subscribers: [] }`: none. Rejects EventConfigError naming the file and the
 * field for any unreadable, unparsable or invalid configuration.
 * @example
 * // core-process.yaml:
 * // events:
 * //   subscribers:
 * //     - { type: jsonl, path: logs/events.jsonl }
 * //     - { type: exec, argv: [./hooks/notify], timeoutMs: 2000 }
 * const subscribers = await loadSubscribers('/srv/app');
 */
export async function loadSubscribers(root: string): Promise<Subscriber[]> {
  if (typeof root !== 'string' || !isAbsolute(root)) {
    // Relative would mean "relative to the cwd", which moves under process.chdir().
    throw new TypeError(
      `loadSubscribers: root must be an absolute directory path, got ${describe(root)}`,
    );
  }
  const found = await readFirst(root);
  if (found === null) return [new JsonlWriter(DEFAULT_EVENTS_PATH, root)];
  // An empty file is a document with nothing in it, not an error.
  const data = parse(found.file, found.text) ?? {};
  const parsed = fileSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    const { path, reason } = reasonOf(issue);
    throw new EventConfigError(found.file, path.map(String).join('.'), reason);
  }
  const events = parsed.data.events;
  // `events:` with no value reads as null: treated like an absent key, as the contract's
  // reference implementation does.
  if (events === undefined || events === null) return [new JsonlWriter(DEFAULT_EVENTS_PATH, root)];
  return events.subscribers.map((entry) => toSubscriber(entry, root));
}
