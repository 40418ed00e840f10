// Daemon: start and stop observed from outside (the PID file on disk, HTTP to the health
// server, the registry's files), failures that must undo what was done, a stuck onStop, and a
// real SIGTERM/SIGINT to a daemon running in its own Node process.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Daemon, type DaemonOptions } from '../../lib/daemon/daemon.js';
import { HealthServer } from '../../lib/daemon/health.js';
import { PidFileError } from '../../lib/daemon/pidfile.js';
import { DaemonRegistry } from '../../lib/daemon/registry.js';
import { eventually, procState, tempDir } from '../helpers.js';
import {
  compiledDaemon,
  listDir,
  removeCompiledDaemon,
  startNode,
  startTimeOf,
} from './helpers.js';

const daemons: Daemon[] = [];
const extraServers: HealthServer[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop().catch(() => undefined);
  for (const s of extraServers.splice(0)) await s.stop();
  vi.restoreAllMocks();
});
// Compiling takes seconds on a loaded machine; do it once, outside any test's own bound.
beforeAll(() => compiledDaemon(), 120_000);
afterAll(removeCompiledDaemon);

interface Setup {
  dir: string;
  pidFile: string;
  registry: DaemonRegistry;
}

function setup(): Setup {
  const dir = tempDir('core-process-daemon-');
  return {
    dir,
    pidFile: path.join(dir, 'run', 'web.pid'),
    registry: new DaemonRegistry(path.join(dir, 'registry')),
  };
}

function daemon(s: Setup, options: Partial<DaemonOptions> = {}): Daemon {
  const d = new Daemon({
    name: 'web',
    code: 'shop',
    pidFile: s.pidFile,
    registry: s.registry,
    handleSignals: false,
    ...options,
  });
  daemons.push(d);
  return d;
}

const ourRecord = () => `${process.pid}\n`;

describe('Daemon.start', () => {
  it('good: creates the PID file, answers health and ready, and is listed with its health url', async () => {
    const s = setup();
    const d = daemon(s, { health: { checks: { alive: () => true } } });
    expect(d.state).toBe('idle');
    await d.start();
    expect(d.state).toBe('running');
    expect(readFileSync(s.pidFile, 'utf8')).toBe(ourRecord());
    const url = d.health?.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect(await (await fetch(`${url}/ready`)).json()).toEqual({ ready: true });
    expect(listDir(s.registry.dir)).toEqual(['shop--web.json']);
    const onDisk = JSON.parse(readFileSync(path.join(s.registry.dir, 'shop--web.json'), 'utf8'));
    expect(onDisk).toMatchObject({
      code: 'shop',
      daemon: 'web',
      pid: process.pid,
      startTime: startTimeOf(process.pid),
      health: url,
    });
    expect(s.registry.list()).toEqual([expect.objectContaining({ daemon: 'web', health: url })]);
  });

  it('good: health, registry and PID file are each optional', async () => {
    const d = new Daemon({ name: 'bare', health: false, registry: false, handleSignals: false });
    daemons.push(d);
    expect(d.health).toBeNull();
    await d.start();
    expect(d.state).toBe('running');
    await d.stop();
    expect(d.state).toBe('stopped');
  });

  it('bad: a second daemon on the same PID file fails with Held and leaves no registry entry', async () => {
    const s = setup();
    const first = daemon(s);
    await first.start();
    const second = daemon(s, { name: 'web2' });
    const e = await second.start().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(PidFileError);
    expect(e).toMatchObject({ kind: 'Held', pid: process.pid, path: s.pidFile });
    expect(second.state).toBe('idle');
    expect(second.health?.url).toBeNull();
    expect(listDir(s.registry.dir)).toEqual(['shop--web.json']);
    // The first one is untouched.
    expect(readFileSync(s.pidFile, 'utf8')).toBe(ourRecord());
    expect((await fetch(`${first.health?.url}/health`)).status).toBe(200);
  });

  it('bad: when the health server cannot listen, the PID file taken before is released', async () => {
    const s = setup();
    const busy = new HealthServer();
    extraServers.push(busy);
    const { port } = await busy.start();
    const d = daemon(s, { health: { addr: `127.0.0.1:${port}` } });
    await expect(d.start()).rejects.toThrow(`127.0.0.1:${port}`);
    expect(existsSync(s.pidFile)).toBe(false);
    expect(listDir(s.registry.dir)).toEqual([]);
    expect(d.state).toBe('idle');
  });

  it('ugly: when registering fails, health stops and the PID file is released', async () => {
    const s = setup();
    const broken = new DaemonRegistry(path.join(s.dir, 'registry'));
    vi.spyOn(broken, 'register').mockImplementation(() => {
      throw new Error('registry disk full');
    });
    const d = daemon(s, { registry: broken });
    await expect(d.start()).rejects.toThrow('registry disk full');
    expect(existsSync(s.pidFile)).toBe(false);
    expect(d.health?.url).toBeNull();
    expect(d.state).toBe('idle');
  });

  it('bad: names that cannot be file names are refused at construction, naming them', () => {
    expect(() => new Daemon({ name: '../evil' })).toThrow('"../evil"');
    expect(() => new Daemon({ name: 'ok', code: 'a b' })).toThrow('"a b"');
    expect(() => new Daemon({ name: 'ok', shutdownTimeout: -1 })).toThrow(/shutdownTimeout/);
  });
});

describe('Daemon.stop', () => {
  it('good: undoes everything, runs onStop once, and is idempotent', async () => {
    const s = setup();
    let stops = 0;
    const d = daemon(s, { onStop: () => void stops++ });
    await d.start();
    const url = d.health?.url as string;
    await Promise.all([d.stop(), d.stop()]);
    await d.stop();
    expect(stops).toBe(1);
    expect(d.state).toBe('stopped');
    expect(existsSync(s.pidFile)).toBe(false);
    expect(listDir(s.registry.dir)).toEqual([]);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    await expect(d.start()).rejects.toThrow(/stopped/);
  });

  it('good: not ready while onStop runs', async () => {
    const s = setup();
    let readyDuringStop: number | undefined;
    const d = daemon(s, {
      onStop: async () => {
        readyDuringStop = (await fetch(`${d.health?.url}/ready`)).status;
      },
    });
    await d.start();
    await d.stop();
    expect(readyDuringStop).toBe(503);
  });

  it('ugly: an onStop that never finishes is cut off at shutdownTimeout and stop completes', async () => {
    const s = setup();
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const d = daemon(s, { shutdownTimeout: 200, onStop: () => new Promise<void>(() => {}) });
    await d.start();
    const started = performance.now();
    await d.stop();
    expect(performance.now() - started).toBeLessThan(5000);
    expect(d.state).toBe('stopped');
    expect(existsSync(s.pidFile)).toBe(false);
    expect(listDir(s.registry.dir)).toEqual([]);
    expect(write.mock.calls.map((c) => String(c[0])).join('')).toMatch(
      /shop\/web: onStop did not finish within shutdownTimeout 200 ms/,
    );
  });

  it('ugly: an onStop that throws is reported and stop completes', async () => {
    const s = setup();
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const d = daemon(s, {
      onStop: () => {
        throw new Error('flush failed');
      },
    });
    await d.start();
    await d.stop();
    expect(existsSync(s.pidFile)).toBe(false);
    expect(write.mock.calls.map((c) => String(c[0])).join('')).toMatch(
      /onStop failed: flush failed/,
    );
  });

  it('ugly: stop leaves a registry entry that a newer start of the same daemon wrote', async () => {
    const s = setup();
    const d = daemon(s, { pidFile: undefined });
    await d.start();
    s.registry.register({
      code: 'shop',
      daemon: 'web',
      pid: process.ppid,
      startedAt: new Date().toISOString(),
    });
    await d.stop();
    expect(s.registry.get('shop', 'web')?.pid).toBe(process.ppid);
  });

  it('good: with handleSignals, listeners are added on start and removed on stop', async () => {
    const s = setup();
    const before = [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const d = daemon(s, { handleSignals: true });
    await d.start();
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(
      before.map((n) => n + 1),
    );
    await d.stop();
    expect([process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')]).toEqual(before);
  });
});

describe('Daemon signals', () => {
  it.each([
    'SIGTERM',
    'SIGINT',
  ] as const)('good: a real %s stops a daemon in its own process; it exits on its own, leaving nothing', async (signal) => {
    const lib = await compiledDaemon();
    const s = setup();
    const child = startNode('daemon-child.mjs', [lib, s.pidFile, s.registry.dir, 'sig']);
    try {
      const ready = JSON.parse(await child.line()) as { ready: boolean; url: string };
      const pid = child.proc.pid as number;
      expect(readFileSync(s.pidFile, 'utf8')).toBe(`${pid}\n`);
      expect(s.registry.get('test', 'sig')).toMatchObject({ pid, health: ready.url });
      expect((await fetch(`${ready.url}/health`)).status).toBe(200);

      process.kill(pid, signal);
      expect(JSON.parse(await child.line())).toEqual({ onStop: true });
      // No process.exit anywhere: a clean exit code means the loop drained by itself.
      expect(await child.exited).toEqual({ code: 0, signal: null });
      expect(await eventually(() => procState(pid) === null)).toBe(true);
      expect(existsSync(s.pidFile)).toBe(false);
      expect(listDir(s.registry.dir)).toEqual([]);
      await expect(fetch(`${ready.url}/health`)).rejects.toThrow();
      expect(child.stderr()).toBe('');
    } finally {
      if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
    }
  });
});
