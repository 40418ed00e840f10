// Fenced code blocks of a Markdown file, with where they start and what their info string asks.
// The info string is `LANG [file=NAME] [root] [no-run: reason]`: renderers read only LANG, so
// the rest is for the docs test and is seen by whoever edits the block.
import fs from 'node:fs';

export interface Block {
  /** The Markdown file, relative to the checkout. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  code: string;
  /** `file=NAME`: the block is that file's content, written into the page's directory. */
  writeTo?: string;
  /** `root`: runs only as root (it needs capabilities an unprivileged user lacks). */
  root: boolean;
  /** `no-run: reason`: never run, and why. */
  noRun?: string;
}

/** Where a block is, as an editor wants it: `docs/spawn.md:12 (js)`. */
export function where(b: Block): string {
  return `${b.file}:${b.line} (${b.lang || 'no language'})`;
}

export function parseInfo(info: string): Pick<Block, 'lang' | 'writeTo' | 'root' | 'noRun'> {
  const noRunAt = info.search(/\bno-run\b/);
  const head = noRunAt === -1 ? info : info.slice(0, noRunAt);
  const words = head.trim().split(/\s+/).filter(Boolean);
  const lang = words.shift() ?? '';
  let writeTo: string | undefined;
  let root = false;
  for (const w of words) {
    if (w.startsWith('file=')) writeTo = w.slice('file='.length);
    else if (w === 'root') root = true;
    else throw new Error(`unknown word "${w}" in the fence info string "${info}"`);
  }
  const noRun = noRunAt === -1 ? undefined : info.slice(noRunAt + 'no-run'.length);
  return {
    lang,
    root,
    ...(writeTo === undefined ? {} : { writeTo }),
    ...(noRun === undefined ? {} : { noRun: noRun.replace(/^:?\s*/, '') }),
  };
}

/** Every fenced block of `text` (``` or ~~~, indented or not), in order. */
export function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i] as string);
    if (open === null) continue;
    const [, indent = '', fence = '', info = ''] = open;
    // CommonMark: a backtick in a backtick fence's info string makes the line no fence at all,
    // so renderers would show this block as prose while this test ran it.
    if (fence.startsWith('`') && info.includes('`')) {
      throw new Error(`${file}:${i + 1}: no backticks in a fence's info string ("${info}")`);
    }
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j] as string;
      if (l.trim().startsWith(fence) && l.trim().slice(fence.length).trim() === '') break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    if (j === lines.length) throw new Error(`${file}:${i + 1}: code block never closed`);
    out.push({ file, line: i + 1, code: `${body.join('\n')}\n`, ...parseInfo(info) });
    i = j;
  }
  return out;
}

export function blocksOf(root: string, file: string): Block[] {
  return extractBlocks(file, fs.readFileSync(`${root}/${file}`, 'utf8'));
}
