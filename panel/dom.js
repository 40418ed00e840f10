// DOM helpers: build HTML and SVG elements from plain data. Text always goes in as text
// nodes or attribute values, never through an HTML parser, so data cannot inject markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('button', { testid: 'kill', onclick: fn, disabled: true }, 'Kill')
 * Props: `testid` -> data-testid, `dataset` -> data-*, `on<event>` functions -> listeners,
 * anything else -> an attribute (false/null/undefined leave it out, true sets it empty).
 */
export function h(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** The same for SVG elements: svg('rect', { x: 0, y: 0, width: 10, height: 10 }). */
export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

function build(node, props, children) {
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'testid') node.setAttribute('data-testid', value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Replaces a node's children, skipping null/false like h() does. */
export function fill(node, ...children) {
  node.replaceChildren();
  return build(node, null, children);
}

/** Sets an element's text only when it changed (keeps selections and avoids churn). */
export function setText(node, text) {
  const value = String(text ?? '');
  if (node.textContent !== value) node.textContent = value;
}

/** A status badge: its colour comes from panel.css by [data-status]. */
export function badge(status, testid = 'status') {
  return h('span', { class: 'badge', testid, dataset: { status: String(status) } }, status);
}

/** Updates a badge made by badge(). */
export function setBadge(node, status, text = status) {
  node.dataset.status = String(status);
  setText(node, text);
}
