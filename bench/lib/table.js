// Plain-text table rendering and number formatting for the human-readable bench report.

export function fmtNum(x, digits = 3) {
  if (x === undefined || x === null) return '-';
  if (typeof x === 'string') return x;
  if (!Number.isFinite(x)) return String(x);
  const abs = Math.abs(x);
  if (abs >= 1000) return Math.round(x).toLocaleString('en-US');
  if (abs >= 100) return x.toFixed(0);
  if (abs === 0) return '0';
  return Number(x.toPrecision(digits)).toString();
}

export function fmtRatio(x) {
  if (x === undefined || x === null || !Number.isFinite(x)) return '-';
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}

/** @param {string[]} header @param {string[][]} rows */
export function renderTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i])))
      .join('  ');
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.map(line)].join('\n');
}
