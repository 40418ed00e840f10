// pipelineGraph(): draws one pipeline run as inline SVG. Each spec is a box coloured by its
// status; each `after` dependency is an arrow into the spec. Layered layout: a spec's column
// is 1 + the highest column of its dependencies, rows keep the specs' order.
import { svg } from '../dom.js';
import { duration } from '../format.js';

const BOX_W = 168;
const BOX_H = 46;
const GAP_X = 56;
const GAP_Y = 14;
const PAD = 8;
const MAX_NAME = 20;
let graphs = 0; // unique marker ids per document

/** name -> column; unknown dependencies are ignored and a cycle cannot loop forever. */
export function columns(specs) {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const memo = new Map();
  const visiting = new Set();
  const column = (name) => {
    if (memo.has(name)) return memo.get(name);
    if (visiting.has(name)) return 0;
    visiting.add(name);
    const deps = (byName.get(name)?.after ?? []).filter((d) => byName.has(d));
    const col = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(column));
    visiting.delete(name);
    memo.set(name, col);
    return col;
  };
  for (const s of specs) column(s.name);
  return memo;
}

const clip = (text, max) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * The SVG for `specs` ({ name, status, after, durationMs?, error?, command?, args? }).
 * onSelect(name) is called when a box is clicked or activated with Enter/Space.
 */
export function pipelineGraph(specs, { onSelect, selected } = {}) {
  const cols = columns(specs);
  const place = new Map(); // name -> { x, y }
  const rowsPerCol = [];
  for (const s of specs) {
    if (place.has(s.name)) continue; // duplicate names: draw the first
    const col = cols.get(s.name) ?? 0;
    const row = rowsPerCol[col] ?? 0;
    rowsPerCol[col] = row + 1;
    place.set(s.name, { x: PAD + col * (BOX_W + GAP_X), y: PAD + row * (BOX_H + GAP_Y) });
  }
  const ncols = Math.max(1, rowsPerCol.length);
  const nrows = Math.max(1, ...rowsPerCol.map((n) => n ?? 0));
  const width = 2 * PAD + ncols * BOX_W + (ncols - 1) * GAP_X;
  const height = 2 * PAD + nrows * BOX_H + (nrows - 1) * GAP_Y;
  const marker = `cp-arrow-${++graphs}`;

  const edges = [];
  for (const s of specs) {
    const to = place.get(s.name);
    for (const dep of s.after ?? []) {
      const from = place.get(dep);
      if (!from || !to) continue;
      const x1 = from.x + BOX_W;
      const y1 = from.y + BOX_H / 2;
      const x2 = to.x - 3;
      const y2 = to.y + BOX_H / 2;
      const bend = Math.max(20, (x2 - x1) / 2);
      edges.push(
        svg('path', {
          class: 'edge',
          testid: 'pipeline-edge',
          dataset: { from: dep, to: s.name },
          d: `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`,
          'marker-end': `url(#${marker})`,
        }),
      );
    }
  }

  const boxes = specs
    .filter((s) => place.get(s.name))
    .map((s) => {
      const { x, y } = place.get(s.name);
      const status = s.status ?? 'pending';
      const detail =
        typeof s.durationMs === 'number' ? `${status} · ${duration(s.durationMs)}` : status;
      const tip = [
        s.name,
        s.command ? `$ ${[s.command, ...(s.args ?? [])].join(' ')}` : '',
        s.error ?? '',
      ]
        .filter(Boolean)
        .join('\n');
      const activate = () => onSelect?.(s.name);
      return svg(
        'g',
        {
          class: `spec${s.name === selected ? ' selected' : ''}`,
          testid: 'pipeline-spec',
          dataset: { name: s.name, status },
          transform: `translate(${x} ${y})`,
          tabindex: 0,
          role: 'button',
          'aria-label': `${s.name}: ${detail}`,
          onclick: activate,
          onkeydown: (event) => {
            if (event.key === 'Enter' || event.key === ' ') {
              event.preventDefault();
              activate();
            }
          },
        },
        svg('title', {}, tip),
        svg('rect', { width: BOX_W, height: BOX_H, rx: 6 }),
        svg('text', { class: 'spec-name', x: 10, y: 19 }, clip(s.name, MAX_NAME)),
        svg('text', { class: 'spec-sub', x: 10, y: 36 }, detail),
      );
    });

  return svg(
    'svg',
    {
      class: 'pipeline-graph',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      role: 'group',
      'aria-label': 'Pipeline specs and their dependencies',
    },
    svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: marker,
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        svg('path', { class: 'arrow-head', d: 'M 0 0 L 10 5 L 0 10 z' }),
      ),
    ),
    edges,
    boxes,
  );
}
