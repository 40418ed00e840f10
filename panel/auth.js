// The API token: adopted once from the URL fragment (#token=...) the server prints, kept in
// sessionStorage so a reload keeps it, and removed from the address bar right away.
import { emit } from './bus.js';

const KEY = 'core-process-token';
let memory = null; // used when sessionStorage is unavailable

/** The token to send, or null. */
export function getToken() {
  try {
    return sessionStorage.getItem(KEY) ?? memory;
  } catch {
    return memory;
  }
}

/** Stores a new token and tells the panel to reconnect and reload with it. */
export function setToken(token, { announce = true } = {}) {
  memory = token;
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // private mode or storage disabled: the in-memory copy is enough for this page
  }
  if (announce) emit('token-changed', token);
}

/**
 * Reads `token` from location.hash, stores it, and rewrites the address without it (other
 * fragment parameters are kept). Parsed by hand so a '+' in the token is not read as a space.
 */
export function adoptTokenFromHash() {
  const hash = location.hash.replace(/^#/, '');
  if (hash === '') return;
  const parts = hash.split('&');
  const index = parts.findIndex((part) => part.startsWith('token='));
  if (index === -1) return;
  let token = parts[index].slice('token='.length);
  try {
    token = decodeURIComponent(token);
  } catch {
    // not percent-encoded: use it as it is
  }
  if (token !== '') setToken(token, { announce: false });
  parts.splice(index, 1);
  const rest = parts.join('&');
  history.replaceState(
    history.state,
    '',
    `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`,
  );
}
