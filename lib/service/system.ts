/**
 * The process.system action: the machine's online CPUs and, for each, the managed processes
 * and threads allowed on it, read from the kernel (sched_getaffinity, sched_getscheduler)
 * at the time of the call, so what a child changed itself is shown too.
 */
import { z } from 'zod';
import type { Core } from '../core/core.js';
import { outputSchema } from '../core/output-schema.js';
import { getAffinity } from '../sched/affinity.js';
import { onlineCpus } from '../sched/cpus.js';
import { getScheduler, isRealtime } from '../sched/scheduler.js';
import type { ThreadHandle } from '../thread/handle.js';
import type { ManagedProcess } from './managed.js';

export interface CpuPlacement {
  cpu: number;
  processes: Array<{
    id: string;
    pid: number;
    command: string;
    realtime: boolean;
    policy: string;
    priority: number;
  }>;
  threads: Array<{
    id: string;
    tid: number;
    name: string;
    realtime: boolean;
    policy: string;
    priority: number;
  }>;
}

export interface SystemView {
  cpus: number[];
  perCpu: CpuPlacement[];
}

const placed = {
  realtime: z.boolean(),
  policy: z.string().describe('scheduling policy: other, batch, idle, fifo, rr'),
  priority: z.int(),
};
const systemViewSchema = outputSchema<SystemView>()(
  z.object({
    cpus: z.array(z.int().nonnegative()).describe('online CPU ids'),
    perCpu: z.array(
      z.object({
        cpu: z.int().nonnegative(),
        processes: z.array(
          z.object({ id: z.string(), pid: z.int().positive(), command: z.string(), ...placed }),
        ),
        threads: z.array(
          z.object({ id: z.string(), tid: z.int().positive(), name: z.string(), ...placed }),
        ),
      }),
    ),
  }),
);

// A task that exited between listing and asking is simply left out.
function placement(id: number): { cpus: number[]; policy: string; priority: number } | null {
  try {
    const s = getScheduler(id);
    return { cpus: getAffinity(id), policy: s.policy, priority: s.priority };
  } catch {
    return null;
  }
}

/**
 * Registers process.system.
 *
 * @example
 * registerSystemAction(core, () => processes.values(), () => threads);
 * (await core.action('process.system').run()).value.perCpu[0].processes;
 */
export function registerSystemAction(
  core: Core,
  processes: () => Iterable<ManagedProcess>,
  threads: () => Map<string, ThreadHandle>,
): void {
  core.action(
    'process.system',
    (): SystemView => {
      const cpus = onlineCpus();
      const perCpu = new Map<number, CpuPlacement>(
        cpus.map((cpu) => [cpu, { cpu, processes: [], threads: [] }]),
      );
      for (const m of processes()) {
        const pid = m.handle?.pid;
        if (pid === undefined || m.status !== 'running') continue;
        const p = placement(pid);
        if (p === null) continue;
        const entry = {
          id: m.id,
          pid,
          command: m.command,
          realtime: isRealtime(p.policy),
          policy: p.policy,
          priority: p.priority,
        };
        for (const cpu of p.cpus) perCpu.get(cpu)?.processes.push(entry);
      }
      for (const [id, t] of threads()) {
        if (!t.running) continue;
        const p = placement(t.tid);
        if (p === null) continue;
        const entry = {
          id,
          tid: t.tid,
          name: t.name ?? '',
          realtime: isRealtime(p.policy),
          policy: p.policy,
          priority: p.priority,
        };
        for (const cpu of p.cpus) perCpu.get(cpu)?.threads.push(entry);
      }
      return { cpus, perCpu: [...perCpu.values()] };
    },
    {
      description: 'Online CPUs and the managed processes and threads placed on each',
      output: systemViewSchema,
    },
  );
}
