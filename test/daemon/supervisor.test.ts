import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type DaemonTopic,
  type SuperviseOptions,
  type Supervisor,
  supervise,
  type Timers,
} from '../../lib/daemon/supervisor.js';
import { ProcessError } from '../../lib/errors.js';
import { until } from '../core/helpers.js';
import {
  liveGroupMembers as groupMembers,
  maskHas,
  procState,
  procStatusField,
} from '../helpers.js';

const running: Supervisor[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

type Seen = Array<{ topic: DaemonTopic; payload: Record<string, unknown> }>;

function start(options: Omit<SuperviseOptions, 'onEvent'>): { s: Supervisor; seen: Seen } {
  const seen: Seen = [];
  const s = supervise({ ...options, onEvent: (topic, payload) => seen.push({ topic, payload }) });
  running.push(s);
  return { s, seen };
}

const alive = (pid: number) => {
  const st = procState(pid);
  return st !== null && st !== 'Z';
};

/** Timers that run each callback on the next turn and record the delay asked for. */
function instantTimers(random = 0.5): Timers & { delays: number[] } {
  const delays: number[] = [];
  let now = 0;
  return {
    delays,
    setTimeout: (fn, ms) => {
      delays.push(ms);
      return setImmediate(() => {
        now += ms;
        fn();
      });
    },
    clearTimeout: (h) => clearImmediate(h as NodeJS.Immediate),
    now: () => now,
    random: () => random,
  };
}

describe('supervise: restart policy', () => {
  it('good: on-failure restarts a failing child with doubling delays, then gives up and says why', async () => {
    const timers = instantTimers();
    const { s, seen } = start({
      name: 'flaky',
      command: 'sh',
      args: ['-c', 'exit 3'],
      restart: {
        policy: 'on-failure',
        maxRestarts: 4,
        windowMs: 60_000,
        backoff: { initialMs: 100, factor: 2, maxMs: 500 },
      },
      timers,
    });
    const final = await s.done;
    expect(final).toMatchObject({ state: 'gave-up', restarts: 4, lastExit: { code: 3 } });
    expect(final.reason).toMatch(
      /4 restarts within 60000 ms \(maxRestarts 4\); last: exited with code 3/,
    );
    expect(timers.delays).toEqual([100, 200, 400, 500]);
    const topics = seen.map((e) => e.topic);
    expect(topics.filter((t) => t === 'daemon.started')).toHaveLength(5);
    expect(topics.filter((t) => t === 'daemon.exited')).toHaveLength(5);
    expect(topics.at(-1)).toBe('daemon.gave-up');
  });

  it('good: jitter spreads each delay by the configured fraction', async () => {
    const low = instantTimers(0);
    const { s } = start({
      name: 'j',
      command: 'false',
      restart: { maxRestarts: 2, backoff: { initialMs: 1000 }, jitter: 0.2 },
      timers: low,
    });
    await s.done;
    expect(low.delays).toEqual([800, 1600]);
  });

  it('good: on-failure does not restart a clean exit; always does; never never does', async () => {
    const clean = start({ name: 'ok', command: 'true', timers: instantTimers() });
    expect(await clean.s.done).toMatchObject({ state: 'stopped', restarts: 0, reason: null });
    const always = start({
      name: 'loop',
      command: 'true',
      restart: { policy: 'always', maxRestarts: 2 },
      timers: instantTimers(),
    });
    expect(await always.s.done).toMatchObject({ state: 'gave-up', restarts: 2 });
    const never = start({ name: 'once', command: 'false', restart: { policy: 'never' } });
    expect(await never.s.done).toMatchObject({
      state: 'stopped',
      restarts: 0,
      reason: 'exited with code 1',
    });
  });

  it('bad: bad options are refused naming the field; a first spawn failure throws ENOENT', () => {
    const bad = (o: Partial<SuperviseOptions>) => () =>
      supervise({ name: 'x', command: 'true', ...o } as SuperviseOptions);
    expect(bad({ restart: { policy: 'sometimes' as never } })).toThrow(
      /restart.policy: "sometimes"/,
    );
    expect(bad({ restart: { jitter: 2 } })).toThrow(/restart.jitter: 2/);
    expect(bad({ restart: { backoff: { factor: 0.5 } } })).toThrow(/restart.backoff.factor/);
    expect(bad({ name: '' })).toThrow(/name/);
    expect(bad({ stopGraceMs: 1e10 })).toThrow(/stopGraceMs: 10000000000 must be a number in 0/);
    let err: unknown;
    try {
      supervise({ name: 'x', command: 'no-such-program-zz' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProcessError);
    expect((err as ProcessError).code).toBe('ENOENT');
  });
});

describe('supervise: health', () => {
  it('bad: a probe that could not run is refused before anything starts, naming the field', () => {
    // The fuzz found these passing and crashing the host later, from the probe timer.
    const cases: Array<[unknown, RegExp, string]> = [
      [{ tcp: 'abc' }, /health.tcp: "abc" is not host:port/, 'health.tcp'],
      [{ tcp: '127.0.0.1:99999' }, /is not host:port/, 'health.tcp'],
      [
        { tcp: 'h:1', timeoutMs: 'x' },
        /health.timeoutMs: "x" must be a number/,
        'health.timeoutMs',
      ],
      [{ exec: ['true'], intervalMs: -1 }, /health.intervalMs: -1/, 'health.intervalMs'],
      [{ exec: ['true'], timeoutMs: 1e10 }, /health.timeoutMs: 10000000000/, 'health.timeoutMs'],
      [{ exec: ['true'], failureThreshold: 1.5 }, /an integer/, 'health.failureThreshold'],
      [{ http: 'ftp://127.0.0.1/' }, /not an http:\/\/ or https:\/\/ URL/, 'health.http'],
      [{ exec: [] }, /non-empty array of strings/, 'health.exec'],
      [
        { exec: ['true'], tcp: 'h:1' },
        /exactly one of http, tcp or exec \(got tcp and exec\)/,
        'health',
      ],
    ];
    const marker = `no-such-daemon-${process.pid}`;
    for (const [health, message, field] of cases) {
      let err: unknown;
      try {
        supervise({ name: 'x', command: marker, health } as SuperviseOptions);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(health)).toBeInstanceOf(ProcessError);
      expect((err as ProcessError).message).toMatch(message);
      expect((err as ProcessError).field).toBe(field);
      // Refused before the spawn: a spawn of the missing program would have said ENOENT.
      expect((err as ProcessError).code).toBe('EINVAL');
    }
  });

  it('good: failed probes past the threshold take the whole group down and start a new child', async () => {
    const { s, seen } = start({
      name: 'sick',
      command: 'sh',
      args: ['-c', 'sleep 30 & exec sleep 30'],
      restart: { policy: 'on-failure', maxRestarts: 5, backoff: { initialMs: 10 } },
      health: { exec: ['false'], intervalMs: 30, failureThreshold: 2 },
      stopGraceMs: 1000,
    });
    const first = s.status().pid as number;
    await until(() => groupMembers(first).length === 2);
    await until(() => seen.some((e) => e.topic === 'daemon.restarting'), 10_000);
    await until(() => groupMembers(first).length === 0);
    const unhealthy = seen.filter((e) => e.topic === 'daemon.unhealthy');
    expect(unhealthy.map((e) => e.payload.failures)).toEqual([1, 2]);
    expect(seen.find((e) => e.topic === 'daemon.restarting')?.payload.reason).toBe('unhealthy');
    await until(() => s.status().pid !== null && s.status().pid !== first, 10_000);
    expect(alive(s.status().pid as number)).toBe(true);
  });

  it('good: an HTTP probe that turns 200 keeps the child; a 503 counts as a failure', async () => {
    let code = 503;
    const server: Server = createServer((_req, res) => {
      res.statusCode = code;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const { s, seen } = start({
        name: 'web',
        command: 'sleep',
        args: ['30'],
        health: { http: `http://127.0.0.1:${port}/health`, intervalMs: 20, failureThreshold: 100 },
      });
      await until(() => seen.some((e) => e.topic === 'daemon.unhealthy'));
      expect(String(seen.find((e) => e.topic === 'daemon.unhealthy')?.payload.error)).toMatch(
        /HTTP 503/,
      );
      code = 200;
      await until(() => s.status().healthy === true);
      expect(s.status().consecutiveHealthFailures).toBe(0);
    } finally {
      server.close();
    }
  });

  it('ugly: a TCP probe against a closed port fails with the connect error', async () => {
    const probeServer = createServer();
    await new Promise<void>((r) => probeServer.listen(0, '127.0.0.1', r));
    const { port } = probeServer.address() as AddressInfo;
    await new Promise<void>((r) => probeServer.close(() => r()));
    const { seen } = start({
      name: 'tcp',
      command: 'sleep',
      args: ['30'],
      health: { tcp: `127.0.0.1:${port}`, intervalMs: 20, failureThreshold: 100 },
    });
    await until(() => seen.some((e) => e.topic === 'daemon.unhealthy'));
    expect(String(seen.find((e) => e.topic === 'daemon.unhealthy')?.payload.error)).toMatch(
      /ECONNREFUSED/,
    );
  });
});

describe('Supervisor.stop', () => {
  it('ugly: a child that ignores SIGTERM is SIGKILLed after the grace, group and all', async () => {
    const { s, seen } = start({
      name: 'stubborn',
      command: 'sh',
      args: ['-c', 'trap "" TERM; sleep 30 & while :; do sleep 0.05; done'],
      stopGraceMs: 200,
    });
    const pid = s.status().pid as number;
    // Stop only once the shell ignores SIGTERM (its SigIgn has bit 15) and has a child: a
    // member count alone was met by our PID-namespace init and the shell before its trap ran.
    const ignoresTerm = (p: number) => {
      try {
        return maskHas(procStatusField(p, 'SigIgn'), 15);
      } catch {
        return false;
      }
    };
    await until(() => groupMembers(pid).length >= 3 && groupMembers(pid).some(ignoresTerm));
    const final = await s.stop();
    expect(final).toMatchObject({ state: 'stopped', lastExit: { signal: 'SIGKILL' } });
    expect(groupMembers(pid)).toEqual([]);
    expect(seen.at(-1)?.topic).toBe('daemon.stopped');
    expect(await s.stop()).toMatchObject({ state: 'stopped' });
  });
});
