// REST client for /api/process: JSON in and out, the bearer token on every call, failures
// thrown as ApiError with the server's { error: { kind, message } } when it sent one.
import { getToken } from './auth.js';
import { emit } from './bus.js';

export const API_BASE = '/api/process';

export class ApiError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.kind = kind;
    /** 401 (no token, or a wrong one): raises the auth banner. A 403 is a policy or
     * entitlement denial for a good token, so it is shown as an error, not as a token problem. */
    this.auth = status === 401;
    /** 401 is only about the token, so it is not shown as an error too. */
    this.quiet = status === 401;
  }
}

const seg = (value) => encodeURIComponent(String(value));

/** One call. `body` undefined sends no body (and no Content-Type). */
export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(`${API_BASE}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, 'Network', `cannot reach the server (${error.message})`);
  }
  const text = await response.text();
  let data = null;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (response.ok) return data;
  const message =
    typeof data?.error?.message === 'string'
      ? data.error.message
      : `${method} ${path}: HTTP ${response.status} ${response.statusText}`.trim();
  const error = new ApiError(response.status, data?.error?.kind ?? 'Http', message);
  if (error.auth) emit('auth-required', message);
  throw error;
}

export const listProcesses = () => request('GET', '/processes');
export const getProcess = (id) => request('GET', `/processes/${seg(id)}`);
export const getOutput = (id) => request('GET', `/processes/${seg(id)}/output`);
export const startProcess = (spec) => request('POST', '/processes', spec);
export const killProcess = (id, signal = 'SIGTERM') =>
  request('POST', `/processes/${seg(id)}/kill`, { signal });
export const sendInput = (id, data) => request('POST', `/processes/${seg(id)}/input`, { data });
export const closeStdin = (id) => request('POST', `/processes/${seg(id)}/close-stdin`);

export const runPipeline = (specs, mode) =>
  request('POST', '/pipelines', mode ? { specs, mode } : { specs });
export const listPipelines = () => request('GET', '/pipelines');

export const listDaemons = () => request('GET', '/daemons');
export const stopDaemon = (code, daemon) =>
  request('POST', `/daemons/${seg(code)}/${seg(daemon)}/stop`);
export const daemonHealth = (code, daemon) =>
  request('GET', `/daemons/${seg(code)}/${seg(daemon)}/health`);

export const getSystem = () => request('GET', '/system');
