// Docs that cannot rot: every fenced block of README.md and docs/*.md is run, in page order,
// from a scratch directory of its page. JS and TS blocks run in plain Node against lib/
// compiled once per run ('@core/process' rewritten to that copy; `cjs` blocks are CommonJS
// files that require() it, as Node 20.19+ loads ES modules); shell blocks run in bash
// with the real `core-process` command on PATH; YAML and JSON blocks must parse, and with
// `file=NAME` are written into the page's directory before its blocks run. Only blocks
// marked in the fence info string (`no-run: reason`, or `text` for output samples) are not
// run, and the last test checks that everything else did.
import cp from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { compiledCli } from '../cli/cli.js';
import { childEnv, compiledLib, ROOT } from '../subprocess.js';
import { type Block, blocksOf, where } from './blocks.js';

const JS = new Set(['js', 'javascript', 'mjs', 'ts', 'typescript']);
const CJS = new Set(['cjs']);
const SHELL = new Set(['sh', 'bash', 'shell']);
const DATA = new Set(['yaml', 'yml', 'json']);
const SAMPLE = new Set(['text']);
const isRoot = process.getuid?.() === 0;
// A generous bound for one block on a loaded machine; the examples take well under a second.
const BLOCK_TIMEOUT_MS = 30_000;

const pages = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const ran = new Set<string>();

interface Outcome {
  code: number | null;
  signal: string | null;
  output: string;
}

// The block's processes carry this variable in their environment, so whatever it left behind
// is found in /proc even when it left the block's process group (setsid, daemons).
function leftBehind(marker: string): number[] {
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) {
        found.push(Number(entry));
      }
    } catch {
      // exited meanwhile, or another user's
    }
  }
  return found;
}

/** `pid: command line` of each leftover, then SIGKILLs them. */
async function reapLeftovers(marker: string): Promise<string[]> {
  // Grace for processes already on their way out (a SIGKILLed tree the block just ended).
  const end = Date.now() + 3000;
  let pids = leftBehind(marker);
  while (pids.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    pids = leftBehind(marker);
  }
  const named = pids.map((pid) => {
    try {
      return `${pid}: ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
    } catch {
      return `${pid}`;
    }
  });
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return named;
}

function execute(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = cp.spawn(argv[0] as string, argv.slice(1), {
      cwd,
      env,
      detached: true, // its own group, so a timeout can end everything it started
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    const timer = setTimeout(() => {
      output += `\n[docs test: stopped after ${BLOCK_TIMEOUT_MS} ms]`;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, BLOCK_TIMEOUT_MS);
    const finish = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    };
    child.on('error', reject);
    child.on('close', finish);
    // A process the block left behind may hold our pipes open: the block is over when its
    // shell or script exits, and the leftover check then names what stayed.
    child.on('exit', (code, signal) => {
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(code, signal);
      }, 1000).unref();
    });
  });
}

/** The block as an ES module for plain Node: TS types stripped, '@core/process' the compiled lib. */
function toModule(code: string, lib: string): string {
  const js = ts.transpileModule(code, {
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: false,
    },
  }).outputText;
  return pointAtLib(js, lib);
}

/** '@core/process' and its child_process entry as the compiled copy (a URL, or a path). */
function pointAtLib(code: string, lib: string): string {
  const facade = lib.replace(/index\.js$/, 'child_process/index.js');
  return code
    .replace(/(['"])@core\/process\1/g, JSON.stringify(lib))
    .replace(/(['"])@core\/process\/child_process\1/g, JSON.stringify(facade));
}

interface PageDir {
  dir: string;
  lib: string;
}
const dirs = new Map<string, Promise<PageDir>>();

// The page's scratch directory, made on first use: `core-process` on PATH, its file= blocks.
function pageDir(page: string, blocks: Block[]): Promise<PageDir> {
  let made = dirs.get(page);
  if (made === undefined) {
    made = (async () => {
      const lib = await compiledLib();
      const cli = await compiledCli();
      // Under node_modules/.cache so the blocks' own imports (zod, yaml) resolve from this checkout.
      const cache = path.join(ROOT, 'node_modules', '.cache');
      fs.mkdirSync(cache, { recursive: true });
      const dir = fs.mkdtempSync(path.join(cache, 'core-process-docs-'));
      fs.mkdirSync(path.join(dir, '.bin'));
      fs.writeFileSync(
        path.join(dir, '.bin', 'core-process'),
        `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} "$@"\n`,
        { mode: 0o755 },
      );
      for (const b of blocks) {
        if (b.writeTo !== undefined) fs.writeFileSync(path.join(dir, b.writeTo), b.code);
      }
      return { dir, lib };
    })();
    dirs.set(page, made);
  }
  return made;
}

// Pages run side by side; the blocks of one page run in order, each after the one before it
// has finished (they share the page's directory, and a later block may use an earlier one's
// files). Hence the bound: a block may wait for the page's earlier blocks and, first of all,
// for lib/ and the CLI to compile.
const PAGE_TIMEOUT_MS = 240_000;
const chains = new Map<string, Promise<unknown>>();

function inPageOrder(page: string, step: () => Promise<void>): Promise<void> {
  const mine = (chains.get(page) ?? Promise.resolve()).then(step);
  chains.set(
    page,
    mine.catch(() => undefined),
  );
  return mine;
}

describe.concurrent('code blocks', () => {
  afterAll(async () => {
    for (const made of dirs.values()) {
      const { dir } = await made.catch(() => ({ dir: '' }));
      if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const page of pages) {
    const blocks = blocksOf(ROOT, page);
    it(`${page} has only fences this test understands`, () => {
      for (const b of blocks) expect(b.lang, `${where(b)}: fence needs a language`).not.toBe('');
    });

    for (const b of blocks) {
      const marked = b.noRun !== undefined || SAMPLE.has(b.lang);
      const title = `${where(b)}${b.writeTo ? ` file=${b.writeTo}` : ''}`;
      if (marked) {
        it(`${title} is marked not to run, with a reason`, () => {
          if (b.noRun !== undefined)
            expect(b.noRun, `${where(b)}: no-run needs a reason`).not.toBe('');
        });
        continue;
      }
      it.skipIf(b.root && !isRoot)(
        `${title} runs${b.root ? ' (as root only)' : ''}`,
        async () => {
          await inPageOrder(page, async () => {
            const { dir, lib } = await pageDir(page, blocks);
            await runBlock(b, dir, lib);
          });
          ran.add(where(b));
        },
        PAGE_TIMEOUT_MS,
      );
    }
  }
});

async function runBlock(b: Block, dir: string, lib: string): Promise<void> {
  if (DATA.has(b.lang)) {
    expect(
      () => (b.lang === 'json' ? JSON.parse(b.code) : parseYaml(b.code)),
      where(b),
    ).not.toThrow();
    return;
  }
  // Any other file=NAME block (a Makefile, a module) was written in beforeAll: the blocks that
  // use it are what runs it.
  if (b.writeTo !== undefined) return;
  const marker = `CORE_PROCESS_DOCS_BLOCK=${process.pid}-${b.file}:${b.line}`;
  const env = childEnv({
    CORE_PROCESS_DOCS_BLOCK: marker.slice(marker.indexOf('=') + 1),
    PATH: `${path.join(dir, '.bin')}:${process.env.PATH ?? ''}`,
    XDG_STATE_HOME: path.join(dir, '.state'),
  });
  let argv: string[];
  if (JS.has(b.lang)) {
    const file = path.join(dir, `block-${b.line}.mjs`);
    fs.writeFileSync(file, toModule(b.code, lib));
    argv = [process.execPath, file];
  } else if (CJS.has(b.lang)) {
    // require() takes a path, not the file URL the ES module blocks import.
    const file = path.join(dir, `block-${b.line}.cjs`);
    fs.writeFileSync(file, pointAtLib(b.code, fileURLToPath(lib)));
    argv = [process.execPath, file];
  } else if (SHELL.has(b.lang)) {
    argv = ['bash', '-eo', 'pipefail', '-c', b.code];
  } else {
    throw new Error(
      `${where(b)}: no way to run a "${b.lang}" block; mark it (\`no-run: reason\`, or \`text\` for output)`,
    );
  }
  const r = await execute(argv, dir, env);
  const stray = await reapLeftovers(marker);
  expect(r, `${where(b)} failed:\n${r.output}`).toMatchObject({ code: 0, signal: null });
  expect(stray, `${where(b)} left processes behind`).toEqual([]);
}

describe('the docs test', () => {
  it('ran every block not marked no-run or text (root-only ones when root)', () => {
    const expected = pages
      .flatMap((p) => blocksOf(ROOT, p))
      .filter((b) => b.noRun === undefined && !SAMPLE.has(b.lang) && (isRoot || !b.root))
      .map(where);
    expect([...ran].sort()).toEqual(expected.sort());
  });
});
