// The panel's message bus: elements talk through named events here instead of knowing each
// other. WebSocket events arrive under their topic (e.g. 'process.started'); the panel's
// own ones are 'resync', 'select', 'show-tab', 'processes-changed', 'auth-required',
// 'token-changed', 'probe-auth', 'ws-state' and 'error'.

const target = new EventTarget();

/** Sends `value` (and optional `meta`, e.g. the WebSocket envelope) to every listener. */
export function emit(type, value, meta) {
  target.dispatchEvent(new CustomEvent(type, { detail: { value, meta } }));
}

/** Calls fn(value, meta) for each `type` event; returns a function that stops listening. */
export function on(type, fn) {
  const listener = (event) => fn(event.detail.value, event.detail.meta);
  target.addEventListener(type, listener);
  return () => target.removeEventListener(type, listener);
}

/** Listens to several types with one function; returns one function that stops them all. */
export function onAny(types, fn) {
  const offs = types.map((type) => on(type, (value, meta) => fn(type, value, meta)));
  return () => {
    for (const off of offs) off();
  };
}

/** Shows an error in the error area; a 401 is left to the auth banner alone. */
export function reportError(error, context) {
  if (error?.quiet) return;
  const message = error instanceof Error ? error.message : String(error);
  emit('error', context ? `${context}: ${message}` : message);
}

/** Wraps fn so that calls within `ms` of each other run it once, after the last one. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
