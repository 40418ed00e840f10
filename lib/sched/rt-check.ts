/**
 * rtCheck: what this machine offers a realtime loop and what to fix, read from the kernel's
 * own files, each with pass / warn / fail and the command that fixes it (in the spirit of
 * rtla timerlat's auto-analysis, tuna and rteval). Nothing is changed; steal is measured over
 * a short window.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { native } from '../native.js';
import { isSchedError } from './errors.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface RtCheckItem {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was found, as read (a file's value, a limit, a list). */
  value: string;
  /** Why the status. */
  detail: string;
  /** The command or setting that fixes it; empty when nothing needs fixing. */
  fix: string;
}

export interface RtCheckReport {
  kernel: string;
  cpus: number[];
  items: RtCheckItem[];
  summary: Record<CheckStatus, number>;
}

function tryRead(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function capEff(): bigint {
  const m = /^CapEff:\s+([0-9a-f]+)/m.exec(tryRead('/proc/self/status') ?? '');
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

const CAP_IPC_LOCK = 14n;
const CAP_SYS_NICE = 23n;

function limit(resource: 'rtprio' | 'memlock'): number {
  const r = native.getRlimit(0, resource);
  return isSchedError(r) ? 0 : r[0];
}

function item(
  id: string,
  title: string,
  status: CheckStatus,
  value: string,
  detail: string,
  fix = '',
): RtCheckItem {
  return { id, title, status, value, detail, fix: status === 'pass' ? '' : fix };
}

function stealTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (tryRead('/proc/stat') ?? '').split('\n')) {
    const f = line.split(/\s+/);
    if (/^cpu\d+$/.test(f[0] ?? '')) out.set((f[0] as string).slice(3), Number(f[8] ?? 0));
  }
  return out;
}

/**
 * Reads every check; `stealWindowMs` is how long host steal is sampled (default 500).
 * @example
 * const { items, summary } = await rtCheck();
 * for (const i of items) if (i.status !== 'pass') console.log(i.title, i.fix);
 */
export async function rtCheck(options: { stealWindowMs?: number } = {}): Promise<RtCheckReport> {
  const items: RtCheckItem[] = [];
  const version = tryRead('/proc/sys/kernel/version') ?? os.version();
  const rtKernel = tryRead('/sys/kernel/realtime') === '1' || /PREEMPT_RT/.test(version);
  const dynamic = /PREEMPT_DYNAMIC/.test(version);
  const preemptSetting =
    tryRead('/sys/kernel/debug/sched/preempt') ??
    /(?:^|\s)preempt=(\S+)/.exec(tryRead('/proc/cmdline') ?? '')?.[1] ??
    null;
  items.push(
    item(
      'preempt',
      'preemption model',
      rtKernel ? 'pass' : 'warn',
      rtKernel
        ? 'PREEMPT_RT'
        : `${dynamic ? 'PREEMPT_DYNAMIC' : 'non-RT'}${preemptSetting ? ` (${preemptSetting})` : ''}`,
      rtKernel
        ? 'a PREEMPT_RT kernel: the kernel itself is preemptible'
        : 'not a PREEMPT_RT kernel: long kernel sections delay wake-ups',
      dynamic
        ? 'boot with preempt=full (or a PREEMPT_RT kernel, e.g. apt install linux-image-rt-amd64)'
        : 'boot a PREEMPT_RT kernel (e.g. apt install linux-image-rt-amd64)',
    ),
  );

  const rtRuntime = tryRead('/proc/sys/kernel/sched_rt_runtime_us');
  const rtPeriod = tryRead('/proc/sys/kernel/sched_rt_period_us');
  items.push(
    item(
      'rt-throttling',
      'RT throttling',
      rtRuntime === '-1' ? 'pass' : 'warn',
      `${rtRuntime ?? '?'}/${rtPeriod ?? '?'}`,
      rtRuntime === '-1'
        ? 'realtime tasks are never throttled'
        : `realtime tasks get at most ${rtRuntime} µs of every ${rtPeriod} µs per CPU; a loop that runs longer is stopped for the rest`,
      'sysctl -w kernel.sched_rt_runtime_us=-1   (only with a watchdog of your own: nothing then stops a runaway FIFO task)',
    ),
  );

  // RT group scheduling: a v1 cpu cgroup with cpu.rt_runtime_us 0 refuses SCHED_FIFO (EPERM).
  const cpuPath = /^\d+:(?:[^:]*,)?cpu(?:,[^:]*)?:(.*)$/m.exec(
    tryRead('/proc/self/cgroup') ?? '',
  )?.[1];
  const rtGroup =
    cpuPath === undefined
      ? null
      : tryRead(`/sys/fs/cgroup/cpu${cpuPath === '/' ? '' : cpuPath}/cpu.rt_runtime_us`);
  items.push(
    item(
      'rt-group',
      'RT group scheduling',
      rtGroup === null ? 'pass' : rtGroup === '0' ? 'fail' : 'pass',
      rtGroup === null ? 'not enabled' : `cpu.rt_runtime_us ${rtGroup} in ${cpuPath}`,
      rtGroup === '0'
        ? 'our cpu cgroup has no realtime budget: SCHED_FIFO/RR fail with EPERM'
        : rtGroup === null
          ? 'no RT group budget applies'
          : 'our cpu cgroup has a realtime budget',
      `echo 950000 > /sys/fs/cgroup/cpu${cpuPath ?? ''}/cpu.rt_runtime_us   (its parents need at least as much)`,
    ),
  );

  const isolated = tryRead('/sys/devices/system/cpu/isolated') ?? '';
  const nohz = tryRead('/sys/devices/system/cpu/nohz_full') ?? '';
  items.push(
    item(
      'isolation',
      'isolcpus / nohz_full',
      isolated !== '' ? 'pass' : 'warn',
      `isolated: ${isolated || 'none'}; nohz_full: ${nohz || 'none'}`,
      isolated !== ''
        ? "some CPUs are kept free of the scheduler's load balancing"
        : 'no CPU is isolated: shieldCpus() or core-process shield can fence one at run time',
      'boot with isolcpus=managed_irq,domain,1 nohz_full=1 rcu_nocbs=1 (for CPU 1), or core-process shield --cpus 1 -- cmd',
    ),
  );

  const caps = capEff();
  const rtprio = limit('rtprio');
  const nice = (caps >> CAP_SYS_NICE) & 1n;
  items.push(
    item(
      'cap-sys-nice',
      'CAP_SYS_NICE / RLIMIT_RTPRIO',
      nice === 1n || rtprio < 0 || rtprio >= 50 ? 'pass' : rtprio > 0 ? 'warn' : 'fail',
      `CAP_SYS_NICE ${nice === 1n ? 'yes' : 'no'}; RLIMIT_RTPRIO ${rtprio < 0 ? 'unlimited' : rtprio}`,
      nice === 1n
        ? 'realtime policies and SCHED_DEADLINE are allowed'
        : `SCHED_FIFO up to priority ${rtprio < 0 ? 99 : rtprio} only; SCHED_DEADLINE needs CAP_SYS_NICE`,
      "ulimit -r 99 (limits.conf: '@realtime - rtprio 99'), or setcap cap_sys_nice+ep, or --cap-add SYS_NICE in a container",
    ),
  );

  const memlock = limit('memlock');
  const ipc = (caps >> CAP_IPC_LOCK) & 1n;
  items.push(
    item(
      'cap-ipc-lock',
      'CAP_IPC_LOCK / RLIMIT_MEMLOCK',
      ipc === 1n || memlock < 0 ? 'pass' : memlock >= 512 << 20 ? 'warn' : 'fail',
      `CAP_IPC_LOCK ${ipc === 1n ? 'yes' : 'no'}; RLIMIT_MEMLOCK ${memlock < 0 ? 'unlimited' : `${memlock} bytes`}`,
      ipc === 1n || memlock < 0
        ? 'lockMemory() can lock all of a Node process'
        : 'lockMemory() fails once a Node process is larger than the limit (about 80 MiB resident with onFault)',
      "ulimit -l unlimited (limits.conf: '@realtime - memlock unlimited', systemd LimitMEMLOCK=infinity)",
    ),
  );

  const swaps = (tryRead('/proc/swaps') ?? '').split('\n').slice(1).filter(Boolean);
  items.push(
    item(
      'swap',
      'swap',
      swaps.length === 0 ? 'pass' : 'warn',
      swaps.length === 0 ? 'none' : swaps.map((l) => l.split(/\s+/)[0]).join(', '),
      swaps.length === 0
        ? 'nothing can be swapped out'
        : 'pages not locked can be swapped out under pressure',
      'swapoff -a, or lockMemory()',
    ),
  );

  const thp =
    /\[(\w+)\]/.exec(tryRead('/sys/kernel/mm/transparent_hugepage/enabled') ?? '')?.[1] ?? 'absent';
  items.push(
    item(
      'thp',
      'transparent huge pages',
      thp === 'always' ? 'warn' : 'pass',
      thp,
      thp === 'always'
        ? 'khugepaged compaction and huge-page faults add latency spikes'
        : 'huge pages only where asked (madvise) or never',
      'echo madvise > /sys/kernel/mm/transparent_hugepage/enabled',
    ),
  );

  const cpus = native.onlineCpus();
  const governors = [
    ...new Set(
      cpus
        .map((c) => tryRead(`/sys/devices/system/cpu/cpu${c}/cpufreq/scaling_governor`))
        .filter((g) => g !== null),
    ),
  ];
  items.push(
    item(
      'cpufreq',
      'cpufreq governor',
      governors.length === 0 || (governors.length === 1 && governors[0] === 'performance')
        ? 'pass'
        : 'warn',
      governors.length === 0 ? 'no cpufreq (fixed frequency, or a VM)' : governors.join(', '),
      governors.length === 0
        ? 'nothing changes the frequency under the loop'
        : "frequency changes stretch the loop's work",
      'cpupower frequency-set -g performance',
    ),
  );

  const idle = tryRead('/sys/devices/system/cpu/cpuidle/current_driver') ?? 'none';
  items.push(
    item(
      'cpuidle',
      'cpuidle driver',
      idle === 'none' ? 'pass' : 'warn',
      idle,
      idle === 'none'
        ? 'no idle states to wake from'
        : 'deep idle states add wake-up latency unless held off',
      'holdCpuLatency(0) for the realtime section (what cyclictest does), or boot with idle=poll / processor.max_cstate=1',
    ),
  );

  const irqbalance = list('/proc').some(
    (p) => /^\d+$/.test(p) && tryRead(`/proc/${p}/comm`) === 'irqbalance',
  );
  items.push(
    item(
      'irqbalance',
      'irqbalance',
      irqbalance ? 'warn' : 'pass',
      irqbalance ? 'running' : 'not running',
      irqbalance
        ? 'it moves IRQs onto any CPU, the realtime one included'
        : 'IRQs stay where they are put',
      'systemctl stop irqbalance, or IRQBALANCE_BANNED_CPULIST=1 in /etc/default/irqbalance',
    ),
  );

  const clock = tryRead('/sys/devices/system/clocksource/clocksource0/current_clocksource') ?? '?';
  items.push(
    item(
      'clocksource',
      'clocksource',
      clock === 'tsc' || clock === 'arch_sys_counter' ? 'pass' : 'warn',
      clock,
      clock === 'tsc' || clock === 'arch_sys_counter'
        ? 'clock reads stay in the vDSO (tens of ns)'
        : 'a slow clocksource makes every clock read a syscall or an MMIO read',
      'echo tsc > /sys/devices/system/clocksource/clocksource0/current_clocksource (if tsc is reliable here)',
    ),
  );

  const a = stealTicks();
  await new Promise((r) => setTimeout(r, options.stealWindowMs ?? 500));
  const b = stealTicks();
  const stolen = [...b].map(([cpu, t]) => `${cpu}:${t - (a.get(cpu) ?? t)}`);
  const anySteal = [...b].some(([cpu, t]) => t - (a.get(cpu) ?? t) > 0);
  items.push(
    item(
      'steal',
      'measured host steal',
      anySteal ? 'warn' : 'pass',
      `ticks per CPU over ${options.stealWindowMs ?? 500} ms: ${stolen.join(' ')}`,
      anySteal
        ? 'the hypervisor ran something else on our vCPUs: stalls no guest setting can prevent'
        : 'no steal seen in the window',
      "pin the VM's vCPUs on the host (dedicated cores), or run on bare metal",
    ),
  );

  const kdamonds = list('/sys/kernel/mm/damon/admin/kdamonds').filter((d) => /^\d+$/.test(d));
  const pageout = kdamonds.filter((k) => {
    if (tryRead(`/sys/kernel/mm/damon/admin/kdamonds/${k}/state`) !== 'on') return false;
    const base = `/sys/kernel/mm/damon/admin/kdamonds/${k}/contexts`;
    return list(base).some((ctx) =>
      list(`${base}/${ctx}/schemes`).some(
        (s) => tryRead(`${base}/${ctx}/schemes/${s}/action`) === 'pageout',
      ),
    );
  });
  items.push(
    item(
      'damon',
      'DAMON pageout',
      pageout.length > 0 ? 'warn' : 'pass',
      pageout.length > 0
        ? `kdamond ${pageout.join(', ')} pages out`
        : `${kdamonds.length} kdamond(s), none paging out`,
      pageout.length > 0
        ? 'cold pages of the loop can be paged out behind its back'
        : 'no proactive reclaim',
      'lockMemory(), or echo off > /sys/kernel/mm/damon/admin/kdamonds/N/state',
    ),
  );

  const perCpu = new Map<number, number>(cpus.map((c) => [c, 0]));
  for (const irq of list('/proc/irq').filter((e) => /^\d+$/.test(e))) {
    const eff = tryRead(`/proc/irq/${irq}/effective_affinity_list`);
    if (eff === null || eff === '') continue;
    for (const part of eff.split(',')) {
      const [lo, hi] = part.split('-').map(Number) as [number, number | undefined];
      for (let c = lo; c <= (hi ?? lo); c++) perCpu.set(c, (perCpu.get(c) ?? 0) + 1);
    }
  }
  const busy = [...perCpu].filter(([, n]) => n > 0);
  items.push(
    item(
      'irqs',
      'IRQs on each CPU',
      cpus.length > 1 && busy.length === cpus.length ? 'warn' : 'pass',
      [...perCpu].map(([c, n]) => `${c}:${n}`).join(' '),
      busy.length === cpus.length
        ? 'every CPU takes interrupts: a realtime CPU should take none it does not need'
        : 'some CPU is free of device interrupts',
      'echo 0 > /proc/irq/N/smp_affinity_list for each IRQ that allows it (shieldCpus scope system does; managed IRQs need isolcpus=managed_irq)',
    ),
  );

  const summary: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const i of items) summary[i.status]++;
  return { kernel: `${os.release()} ${version}`, cpus, items, summary };
}
