/**
 * Health probes for supervised children: an HTTP GET that must answer 2xx, a TCP connect
 * that must succeed, or a command that must exit 0, each bounded by a timeout.
 */
import { connect } from 'node:net';
import { describe, ProcessError } from '../errors.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import { crashSafeDefaults } from '../process/orphans.js';

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

function invalid(field: string, value: unknown, rule: string): ProcessError {
  return new ProcessError('InvalidCommand', `health.${field}: ${describe(value)} ${rule}`, {
    field: `health.${field}`,
    code: 'EINVAL',
  });
}

function hostPort(spec: string): { host: string; port: number } {
  const at = spec.lastIndexOf(':');
  const port = Number(spec.slice(at + 1));
  if (at <= 0 || !/^[0-9]+$/.test(spec.slice(at + 1)) || port <= 0 || port > 65535) {
    throw invalid('tcp', spec, 'is not host:port (port 1..65535)');
  }
  return { host: spec.slice(0, at).replace(/^\[|\]$/g, ''), port };
}

// Node timers fire after 1 ms for anything above 2^31-1, so larger values are refused too.
const TIMER_MAX = 0x7fffffff;
const TIMINGS: ReadonlyArray<[keyof ProbeTiming, number, boolean]> = [
  ['intervalMs', 1, false],
  ['timeoutMs', 1, false],
  ['startPeriodMs', 0, false],
  ['failureThreshold', 1, true],
];

/**
 * Refuses a probe that could not run as written: exactly one of http (an http or https URL),
 * tcp (host:port) or exec (a non-empty array of strings), and timings in range. A
 * supervisor checks its probe this way before the first start, so a bad probe is an error
 * to the caller rather than a crash in a timer later.
 *
 * @example
 * checkProbe({ tcp: '127.0.0.1:8080', intervalMs: 1000 }); // ok
 * checkProbe({ tcp: 'localhost' }); // throws ProcessError InvalidCommand, field health.tcp
 */
export function checkProbe(health: unknown): asserts health is HealthProbe {
  if (typeof health !== 'object' || health === null || Array.isArray(health)) {
    throw new ProcessError('InvalidCommand', `health: ${String(health)} is not a probe object`, {
      field: 'health',
      code: 'EINVAL',
    });
  }
  const h = health as Record<string, unknown>;
  const kinds = (['http', 'tcp', 'exec'] as const).filter((k) => h[k] !== undefined);
  if (kinds.length !== 1) {
    throw new ProcessError(
      'InvalidCommand',
      `health: give exactly one of http, tcp or exec (got ${kinds.length === 0 ? 'none' : kinds.join(' and ')})`,
      { field: 'health', code: 'EINVAL' },
    );
  }
  if (h.http !== undefined) {
    let url: URL | null = null;
    try {
      url = typeof h.http === 'string' ? new URL(h.http) : null;
    } catch {}
    if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw invalid('http', h.http, 'is not an http:// or https:// URL');
    }
  }
  if (h.tcp !== undefined) {
    if (typeof h.tcp !== 'string') throw invalid('tcp', h.tcp, 'is not host:port');
    hostPort(h.tcp);
  }
  if (h.exec !== undefined) {
    const argv = h.exec;
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
      throw invalid('exec', argv, 'is not a non-empty array of strings');
    }
  }
  for (const [key, min, integer] of TIMINGS) {
    const v = h[key];
    if (v === undefined) continue;
    if (
      typeof v !== 'number' ||
      !(v >= min && v <= TIMER_MAX) ||
      (integer && !Number.isInteger(v))
    ) {
      throw invalid(
        key,
        v,
        `must be ${integer ? 'an integer' : 'a number'} in ${min}..${TIMER_MAX}`,
      );
    }
  }
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
    // First, so nothing that follows can leave a socket without an 'error' listener.
    socket.once('error', (e) => done({ ok: false, error: `connect ${spec}: ${e.message}` }));
    socket.setTimeout(timeoutMs, () =>
      done({ ok: false, error: `connect ${spec}: timed out after ${timeoutMs} ms` }),
    );
    socket.once('connect', () => done({ ok: true }));
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
      ...crashSafeDefaults(),
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
 * Runs one probe. Never rejects: a probe that cannot run is a failed verdict saying why.
 *
 * @example
 * await probe({ http: 'http://127.0.0.1:8080/health', timeoutMs: 1000 }, spawn); // { ok: true }
 */
export async function probe(
  health: HealthProbe,
  start: (o: SpawnOptions) => ProcessHandle,
): Promise<ProbeVerdict> {
  try {
    checkProbe(health);
    const timeoutMs = health.timeoutMs ?? 2000;
    const h = health as { http?: string; tcp?: string; exec?: readonly string[] };
    if (h.http !== undefined) return await httpProbe(h.http, timeoutMs);
    if (h.tcp !== undefined) return await tcpProbe(h.tcp, timeoutMs);
    return await execProbe(h.exec ?? [], timeoutMs, start);
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}
