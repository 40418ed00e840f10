/**
 * Health probes for supervised children: an HTTP GET that must answer 2xx, a TCP connect
 * that must succeed, or a command that must exit 0, each bounded by a timeout.
 */
import { connect } from 'node:net';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';

interface ProbeTiming {
  /** Between probes; default 10,000 ms. */
  intervalMs?: number;
  /** Per probe; default 2000 ms. */
  timeoutMs?: number;
  /** Consecutive failures that make the child unhealthy; default 3. */
  failureThreshold?: number;
  /** Grace after each start before the first probe; default 0. */
  startPeriodMs?: number;
}

export type HealthProbe = ProbeTiming &
  ({ http: string } | { tcp: string } | { exec: readonly string[] });

export interface ProbeVerdict {
  ok: boolean;
  error?: string;
}

function hostPort(spec: string): { host: string; port: number } {
  const at = spec.lastIndexOf(':');
  const port = Number(spec.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new TypeError(`health.tcp: ${JSON.stringify(spec)} is not host:port`);
  }
  return { host: spec.slice(0, at).replace(/^\[|\]$/g, ''), port };
}

async function httpProbe(url: string, timeoutMs: number): Promise<ProbeVerdict> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok ? { ok: true } : { ok: false, error: `GET ${url}: HTTP ${res.status}` };
  } catch (e) {
    const why =
      e instanceof Error && e.name === 'TimeoutError'
        ? `timed out after ${timeoutMs} ms`
        : String((e as Error).cause ?? e);
    return { ok: false, error: `GET ${url}: ${why}` };
  }
}

function tcpProbe(spec: string, timeoutMs: number): Promise<ProbeVerdict> {
  const { host, port } = hostPort(spec);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (v: ProbeVerdict) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () =>
      done({ ok: false, error: `connect ${spec}: timed out after ${timeoutMs} ms` }),
    );
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (e) => done({ ok: false, error: `connect ${spec}: ${e.message}` }));
  });
}

async function execProbe(
  argv: readonly string[],
  timeoutMs: number,
  start: (o: SpawnOptions) => ProcessHandle,
): Promise<ProbeVerdict> {
  const [program, ...args] = argv;
  if (program === undefined) return { ok: false, error: 'health.exec: empty command' };
  try {
    const child = start({
      program,
      args,
      stdin: 'null',
      stdout: 'null',
      stderr: 'null',
      processGroup: true,
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    const status = await child.exited;
    if (child.timedOut) return { ok: false, error: `${program}: timed out after ${timeoutMs} ms` };
    if (status.code === 0) return { ok: true };
    return {
      ok: false,
      error: `${program}: ${status.signal ? `killed by ${status.signal}` : `exited with code ${status.code}`}`,
    };
  } catch (e) {
    return { ok: false, error: `${program}: ${(e as Error).message}` };
  }
}

/**
 * Runs one probe.
 *
 * @example
 * await probe({ http: 'http://127.0.0.1:8080/health', timeoutMs: 1000 }, spawn); // { ok: true }
 */
export function probe(
  health: HealthProbe,
  start: (o: SpawnOptions) => ProcessHandle,
): Promise<ProbeVerdict> {
  const timeoutMs = health.timeoutMs ?? 2000;
  if ('http' in health) return httpProbe(health.http, timeoutMs);
  if ('tcp' in health) return tcpProbe(health.tcp, timeoutMs);
  return execProbe(health.exec, timeoutMs, start);
}
