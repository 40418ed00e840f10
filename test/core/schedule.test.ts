// Task schedules (seed 001 §18.7): cron with optional seconds and time zones, checked by the
// wall-clock times the runs really happened at, not by croner's own bookkeeping.
import { afterEach, describe, expect, it } from 'vitest';
import type { Core } from '../../lib/core/index.js';
import { testCore, until } from './helpers.js';

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

function recorder() {
  const core = testCore();
  cores.push(core);
  const fired: number[] = [];
  core.action('tick', () => {
    fired.push(Date.now());
    return fired.length;
  });
  return { core, fired };
}

describe('core.task({ schedule })', () => {
  it('good: every second, it fires at the start of distinct seconds, and tasks() shows the next run', async () => {
    const { core, fired } = recorder();
    core.task({ name: 'sweep', schedule: '* * * * * *', steps: [{ action: 'tick' }] });
    expect(core.tasks(undefined, { detail: true })).toEqual([
      expect.objectContaining({ name: 'sweep', schedule: '* * * * * *', nextRun: null }),
    ]);
    await core.start();
    const [info] = core.tasks(undefined, { detail: true });
    const next = info?.nextRun?.getTime() ?? 0;
    expect(next % 1000).toBe(0);
    expect(next - Date.now()).toBeGreaterThan(0);
    expect(next - Date.now()).toBeLessThanOrEqual(1000);
    await until(() => fired.length >= 3, 15_000);
    const seconds = fired.map((t) => Math.floor(t / 1000));
    console.log(
      `schedule '* * * * * *' fired at ${fired.map((t) => new Date(t).toISOString()).join(', ')}`,
    );
    expect(new Set(seconds).size).toBe(seconds.length);
    expect(fired[0]).toBeGreaterThanOrEqual(next);
    await core.stop();
    const count = fired.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(fired.length).toBe(count); // stopped with the core
    expect(core.tasks(undefined, { detail: true })[0]?.nextRun).toBeNull();
  });

  it('bad: an invalid expression or zone is refused when the task is defined, naming it', () => {
    const core = testCore();
    expect(() =>
      core.task({ name: 'x', schedule: '61 * * * *', steps: [{ action: 'a' }] }),
    ).toThrow(
      expect.objectContaining({
        kind: 'InvalidInput',
        field: 'schedule',
        message: expect.stringMatching(/task x: invalid schedule "61 \* \* \* \*": .*minute/),
      }),
    );
    expect(() =>
      core.task('y', { schedule: '0 2 * * *', timezone: 'Mars/Olympus', steps: [{ action: 'a' }] }),
    ).toThrow(
      expect.objectContaining({
        field: 'timezone',
        message: expect.stringContaining('Mars/Olympus'),
      }),
    );
    expect(core.tasks()).toEqual([]);
  });

  it('ugly: a run still going skips the next tick (no overlap) and core.stop() aborts it', async () => {
    const core = testCore();
    cores.push(core);
    let inFlight = 0;
    let most = 0;
    let aborted = 0;
    core.action('slow', async (_i, { signal }) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2500);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          aborted++;
          resolve();
        });
      });
      inFlight--;
    });
    core.task({ name: 'slow', schedule: '* * * * * *', steps: [{ action: 'slow' }] });
    await core.start();
    await until(() => (core.tasks(undefined, { detail: true })[0]?.skipped ?? 0) >= 1, 15_000);
    expect(most).toBe(1);
    expect(core.tasks(undefined, { detail: true })[0]?.running).toBe(true);
    await core.stop();
    await until(() => aborted === 1);
  });

  it('good: a time zone moves the run: 02:00 in Tokyo is 17:00 UTC', async () => {
    const core = testCore();
    cores.push(core);
    core.action('a', () => 1);
    core.task({
      name: 'nightly',
      schedule: '0 2 * * *',
      timezone: 'Asia/Tokyo',
      steps: [{ action: 'a' }],
    });
    await core.start();
    const next = core.tasks(undefined, { detail: true })[0]?.nextRun;
    expect(next?.getUTCHours()).toBe(17);
    expect(next?.getUTCMinutes()).toBe(0);
  });
});
