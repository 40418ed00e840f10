// Shared by the API tests: a real server over a real Core on loopback, closed after each test,
// and small clients that speak to it from outside (fetch, node:http for a forged Host header,
// a `ws` WebSocket) and read what the kernel says about the children it started. Every JSON
// answer and WebSocket frame they receive is checked against the server's own OpenAPI
// document (contract.ts): a status or field it does not publish fails the test.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { afterEach, expect } from 'vitest';
import WebSocket from 'ws';
import { type ApiServer, type ServeOptions, serve } from '../../lib/api/server.js';
import type { Core } from '../../lib/core/index.js';
import {
  type ProcessService,
  type ProcessServiceOptions,
  processService,
} from '../../lib/service/service.js';
import { testCore } from '../core/helpers.js';
import { procState } from '../helpers.js';
import { contractAt, forgetContract } from './contract.js';

export const BASE = '/api/process';

export interface Api {
  core: Core;
  svc: ProcessService;
  api: ApiServer;
  /** A call with the right token unless `token` says otherwise (null: none at all). */
  call(method: string, path: string, body?: unknown, init?: CallInit): Promise<Reply>;
}

export interface CallInit {
  token?: string | null;
  headers?: Record<string, string>;
  /** Sent as is instead of JSON.stringify(body). */
  raw?: string;
}

export interface Reply {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field in tests
  body: any;
}

/**
 * Registers an afterEach that closes every server, then stops every core, and returns the
 * function that starts them (a Core named 'test' with the process service, then serve()).
 */
export function useApi(): (
  options?: { service?: ProcessServiceOptions } & Partial<Omit<ServeOptions, 'core'>>,
) => Promise<Api> {
  const servers: ApiServer[] = [];
  const cores: Core[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      await s.close();
      forgetContract(s.url);
    }
    for (const c of cores.splice(0)) await c.stop();
    // A frame a WebSocket listener received outside any assertion.
    expect(frameViolations.splice(0)).toEqual([]);
  });
  return async (options = {}) => {
    const { service, ...serveOptions } = options;
    const core = testCore();
    const svc = processService({ killGrace: 300, ...service });
    core.use(svc);
    await core.start();
    cores.push(core);
    const api = await serve({ core, ...serveOptions });
    servers.push(api);
    const call = async (method: string, path: string, body?: unknown, init: CallInit = {}) => {
      const headers: Record<string, string> = { ...init.headers };
      const token = init.token === undefined ? api.token : init.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      const payload = init.raw ?? (body === undefined ? undefined : JSON.stringify(body));
      if (payload !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${api.url}${path}`, { method, headers, body: payload });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text.length > 0 ? JSON.parse(text) : null;
      } catch {
        // not JSON: kept as text for the assertion to show
      }
      const type = res.headers.get('content-type') ?? '';
      (await contractAt(api.url)).checkResponse(method, path, res.status, parsed, type);
      return { status: res.status, headers: res.headers, body: parsed };
    };
    return { core, svc, api, call };
  };
}

/**
 * A raw HTTP/1.1 request with headers fetch would refuse to send (Host, an Upgrade), each on
 * a connection of its own: the server closes a refused upgrade's connection after answering,
 * and a pooled socket reused after that would hang up on the next request.
 */
export function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: Number(u.port),
        method,
        path,
        headers,
        setHost: false,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The argv of a live process, from /proc/<pid>/cmdline. */
export function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
}

/** True while `pid` exists and is not a zombie. */
export function alive(pid: number): boolean {
  const s = procState(pid);
  return s !== null && s !== 'Z';
}

/** What a WebSocket client received, parsed, in order. */
export interface WsClient {
  ws: WebSocket;
  // biome-ignore lint/suspicious/noExplicitAny: JSON messages are read field by field in tests
  messages: any[];
  /** Resolves with the close code once the connection closes. */
  closed: Promise<number>;
  /** Resolves once a message satisfying `match` has arrived (rejects after `timeoutMs`). */
  // biome-ignore lint/suspicious/noExplicitAny: see messages
  next(match: (m: any) => boolean, timeoutMs?: number): Promise<any>;
}

/** Frames that did not fit the document, reported by useApi's afterEach. */
const frameViolations: string[] = [];

/**
 * Opens a WebSocket to the events endpoint; resolves once open (rejects on refusal). Every
 * frame is validated against the document's x-websocket schemas.
 */
export async function connectEvents(url: string, query: string): Promise<WsClient> {
  const contract = await contractAt(url);
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${BASE}/events${query}`);
  const messages: unknown[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    const frame: unknown = JSON.parse(String(data));
    try {
      contract.checkFrame(frame);
    } catch (e) {
      frameViolations.push((e as Error).message);
    }
    messages.push(frame);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  // biome-ignore lint/suspicious/noExplicitAny: see WsClient.messages
  const next = (match: (m: any) => boolean, timeoutMs = 10_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = messages.find(match);
        if (found === undefined) return false;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `no matching message within ${timeoutMs} ms: ${JSON.stringify(messages.slice(-5))}`,
          ),
        );
      }, timeoutMs);
      if (!check()) waiters.add(check);
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed, next }));
    ws.once('unexpected-response', (req, res) => {
      req.destroy(); // a handled refusal is ours to end (ws leaves the request open)
      reject(
        Object.assign(new Error(`unexpected response ${res.statusCode}`), {
          status: res.statusCode,
        }),
      );
    });
    // Kept for the socket's life: a late error (after a refusal or a drop) must not be thrown.
    ws.on('error', reject);
  });
}

/** POST /processes, then GET it: the id and the pid the server reports (throws unless 201). */
export async function startProcess(
  api: Api,
  body: Record<string, unknown>,
): Promise<{ id: string; pid: number }> {
  const started = await api.call('POST', `${BASE}/processes`, body);
  if (started.status !== 201)
    throw new Error(`start: ${started.status} ${JSON.stringify(started.body)}`);
  const got = await api.call('GET', `${BASE}/processes/${started.body.id}`);
  return { id: started.body.id, pid: got.body.pid };
}
