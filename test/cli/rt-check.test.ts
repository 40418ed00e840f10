// `core-process rt-check --json` against the machine's real files, read here independently
// (and `ulimit` from bash): every value it reports must be what the kernel says.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Cli, compiledCli, type OnFinished } from './cli.js';

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const cli = (onTestFinished: OnFinished) => new Cli(bin, onTestFinished);

function file(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

interface Item {
  id: string;
  status: 'pass' | 'warn' | 'fail';
  value: string;
  detail: string;
  fix: string;
}

describe('core-process rt-check', () => {
  it('good: --json reports what the kernel files and ulimit say, with a fix for every non-pass', async ({
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(['rt-check', '--json']);
    const report = JSON.parse(r.stdout) as {
      items: Item[];
      summary: { pass: number; warn: number; fail: number };
    };
    const by = Object.fromEntries(report.items.map((i) => [i.id, i])) as Record<string, Item>;
    expect(Object.keys(by).sort()).toEqual(
      [
        'preempt',
        'rt-throttling',
        'rt-group',
        'isolation',
        'cap-sys-nice',
        'cap-ipc-lock',
        'swap',
        'thp',
        'cpufreq',
        'cpuidle',
        'irqbalance',
        'clocksource',
        'steal',
        'damon',
        'irqs',
      ].sort(),
    );
    const runtime = file('/proc/sys/kernel/sched_rt_runtime_us');
    expect(by['rt-throttling']?.value).toBe(
      `${runtime}/${file('/proc/sys/kernel/sched_rt_period_us')}`,
    );
    expect(by['rt-throttling']?.status).toBe(runtime === '-1' ? 'pass' : 'warn');
    const swaps = (file('/proc/swaps') ?? '').split('\n').slice(1).filter(Boolean);
    expect(by.swap?.value === 'none').toBe(swaps.length === 0);
    const thp = /\[(\w+)\]/.exec(file('/sys/kernel/mm/transparent_hugepage/enabled') ?? '')?.[1];
    if (thp !== undefined) expect(by.thp?.value).toBe(thp);
    expect(by.clocksource?.value).toBe(
      file('/sys/devices/system/clocksource/clocksource0/current_clocksource'),
    );
    expect(by.cpuidle?.value).toBe(
      file('/sys/devices/system/cpu/cpuidle/current_driver') ?? 'none',
    );
    expect(by.isolation?.value).toContain(
      `isolated: ${file('/sys/devices/system/cpu/isolated') || 'none'}`,
    );
    expect(by.preempt?.value).toContain(
      /PREEMPT_RT/.test(file('/proc/sys/kernel/version') ?? '') ? 'PREEMPT_RT' : '',
    );
    // The limits as a shell started the same way sees them (ulimit -l is in KiB).
    const sh = (flag: string) =>
      execFileSync('bash', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
    const memlock = sh('-l');
    expect(by['cap-ipc-lock']?.value).toContain(
      memlock === 'unlimited' ? 'unlimited' : `${Number(memlock) * 1024} bytes`,
    );
    const rtprio = sh('-r');
    expect(by['cap-sys-nice']?.value).toContain(`RLIMIT_RTPRIO ${rtprio}`);
    for (const i of report.items) {
      expect(['pass', 'warn', 'fail']).toContain(i.status);
      expect(i.fix === '').toBe(i.status === 'pass');
    }
    const counted = { pass: 0, warn: 0, fail: 0 };
    for (const i of report.items) counted[i.status]++;
    expect(report.summary).toEqual(counted);
    expect(r.code).toBe(counted.fail > 0 ? 1 : 0);
  });

  it('good: the text form prints one line per check and the fix under each problem', async ({
    onTestFinished,
  }) => {
    const r = await cli(onTestFinished).run(['rt-check']);
    expect(r.stdout).toMatch(/^kernel /);
    expect(r.stdout).toMatch(/(pass|WARN|FAIL) {2}RT throttling: /);
    expect(r.stdout).toMatch(/\d+ pass, \d+ warn, \d+ fail\n$/);
    const warned = (r.stdout.match(/^(WARN|FAIL) /gm) ?? []).length;
    expect((r.stdout.match(/^ {6}fix: /gm) ?? []).length).toBe(warned);
  });
});
