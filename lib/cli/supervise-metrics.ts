/**
 * `core-process supervise --metrics ADDR`: Prometheus metrics for a supervisor run from the
 * command line, which has no Core and so no bus. The supervisor's own events (`daemon.*`) go
 * to the metrics as they are; its spawns go through a wrapper that reports what the process
 * service would publish (`process.started` with the spawn's latency, `process.spawn-failed`
 * with its kind, `process.exited`), so both surfaces fill the same series.
 */
import { InvalidArgumentError } from 'commander';
import { isLoopbackHost } from '../api/auth.js';
import { parseListenAddr } from '../daemon/addr.js';
import { describe, ProcessError } from '../errors.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import { spawn } from '../process/spawn.js';
import { UsageError } from './parse.js';

export interface ListenAddr {
  host: string;
  port: number;
}

export interface SupervisorMetrics {
  /** The spawner to give supervise() (`start`): spawns and counts. */
  start(options: SpawnOptions): ProcessHandle;
  /** Feeds one supervisor event (`onEvent`). */
  observe(topic: string, payload: Record<string, unknown>): void;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * commander parser for `--metrics ADDR`: `host:port`, `[::1]:port` or `:port` (loopback).
 *
 * @example
 * new Option('--metrics <addr>').argParser(parseMetricsAddr);
 */
export function parseMetricsAddr(value: string): ListenAddr {
  try {
    return parseListenAddr(value, '--metrics');
  } catch {
    throw new InvalidArgumentError(
      `${describe(value)} is not host:port, e.g. 127.0.0.1:9464 or [::1]:9464.`,
    );
  }
}

export interface MetricsFlags {
  metrics?: ListenAddr;
  metricsToken?: string;
}

/**
 * Starts the metrics server. The token (`--metrics-token`, else $CORE_PROCESS_TOKEN) is
 * required on any address but loopback, and then asked of every scrape, as `serve` does.
 *
 * Null without `--metrics`. Prints the scrape URL on stderr.
 *
 * @example
 * const metrics = await superviseMetrics({ metrics: { host: '127.0.0.1', port: 9464 } });
 * supervise({ ...options, start: metrics?.start, onEvent: metrics?.observe });
 */
export async function superviseMetrics(f: MetricsFlags): Promise<SupervisorMetrics | null> {
  const addr = f.metrics;
  if (addr === undefined) return null;
  // An empty variable is an unset one (`CORE_PROCESS_TOKEN= core-process ...`).
  const token = f.metricsToken ?? (process.env.CORE_PROCESS_TOKEN || undefined);
  if (token !== undefined && token.length < 16) {
    throw new UsageError('--metrics-token must be at least 16 characters');
  }
  if (token === undefined && !isLoopbackHost(addr.host)) {
    throw new UsageError(
      `--metrics ${describe(addr.host)}: not a loopback address; give --metrics-token (or CORE_PROCESS_TOKEN) to listen there`,
    );
  }
  // Loaded only with --metrics: fastify and prom-client cost a plain supervise half a second
  // of start-up, which a crash-restarted supervisor pays every time.
  const [{ ProcessMetrics }, { serveMetrics }] = await Promise.all([
    import('../api/metrics.js'),
    import('../api/metrics-server.js'),
  ]);
  const metrics = new ProcessMetrics();
  const server = await serveMetrics({
    metrics,
    ...addr,
    ...(token === undefined ? {} : { token }),
  });
  process.stderr.write(`metrics: ${server.url}${token === undefined ? '' : ' (bearer token)'}\n`);
  return {
    start(options) {
      const t0 = performance.now();
      let child: ProcessHandle;
      try {
        child = spawn(options);
      } catch (e) {
        metrics.observe('process.spawn-failed', {
          kind: e instanceof ProcessError ? e.kind : 'SpawnFailed',
        });
        throw e;
      }
      metrics.observe('process.started', { spawnMs: performance.now() - t0 });
      void child.exited.then((s) =>
        metrics.observe('process.exited', {
          exitCode: s.code,
          signal: s.signal,
          durationMs: s.durationMs,
        }),
      );
      return child;
    },
    observe: (topic, payload) => metrics.observe(topic, payload),
    url: server.url,
    close: () => server.close(),
  };
}
