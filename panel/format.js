// Formatting and parsing of what the panel shows and reads: durations, CPU lists, command
// lines (quoted the same way the start form's args field parses them).

const pad = (n) => String(n).padStart(2, '0');

/** 850 -> '850 ms', 12300 -> '12.3 s', 125000 -> '2m 05s', 7384000 -> '2h 03m 04s'. */
export function duration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  const hr = Math.floor(m / 60);
  if (hr === 0) return `${m}m ${pad(s % 60)}s`;
  if (hr < 24) return `${hr}h ${pad(m % 60)}m ${pad(s % 60)}s`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h ${pad(m % 60)}m`;
}

/** A local wall-clock time for an ISO timestamp, or '' when there is none. */
export function clock(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString();
}

/** [0, 1, 2, 5] -> '0-2,5'; null or empty -> ''. */
export function cpuList(cpus) {
  if (!Array.isArray(cpus) || cpus.length === 0) return '';
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const parts = [];
  let start = sorted[0];
  let prev = start;
  for (const cpu of [...sorted.slice(1), Number.NaN]) {
    if (cpu === prev + 1) {
      prev = cpu;
      continue;
    }
    parts.push(start === prev ? `${start}` : `${start}-${prev}`);
    start = cpu;
    prev = cpu;
  }
  return parts.join(',');
}

/** '0,1' or '0-3, 6' -> [0, 1, 2, 3, 6]; '' -> null. Throws on anything else. */
export function parseCpus(text) {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const cpus = new Set();
  for (const part of trimmed.split(/\s*,\s*/)) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) throw new Error(`CPUs: "${part}" is not a CPU number or range like 0-3`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new Error(`CPUs: range "${part}" runs backwards`);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * Splits an args field on whitespace; double quotes group ("a b" -> one arg, "" -> an empty
 * arg) and, inside them, \" and \\ stand for " and \. Throws on an unterminated quote.
 */
export function parseArgs(text) {
  const args = [];
  let current = '';
  let inArg = false;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) current += text[++i];
      else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"') {
      quoted = true;
      inArg = true;
    } else if (/\s/.test(c)) {
      if (inArg) args.push(current);
      current = '';
      inArg = false;
    } else {
      current += c;
      inArg = true;
    }
  }
  if (quoted) throw new Error('Args: a double quote is not closed');
  if (inArg) args.push(current);
  return args;
}

/** One argument as parseArgs would read it back: bare when safe, else double-quoted. */
export function quoteArg(arg) {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return `"${arg.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** 'sh -c "echo hi"' for { command: 'sh', args: ['-c', 'echo hi'] }. */
export function commandLine(command, args) {
  return [command ?? '', ...(Array.isArray(args) ? args : [])].map(quoteArg).join(' ');
}

/** Splits captured text into lines; a trailing newline does not make an empty last line. */
export function splitLines(text) {
  if (typeof text !== 'string' || text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
