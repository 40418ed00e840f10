// Reading a task's scheduling state with tools that are not this library: taskset, chrt,
// /proc/<pid>/stat and /proc/<pid>/limits.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** "0-2,5" -> [0, 1, 2, 5]. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.trim().split(',')) {
    const [lo, hi = lo] = part.split('-').map(Number) as [number, number?];
    for (let c = lo; c <= (hi as number); c++) out.push(c);
  }
  return out;
}

/** `taskset -pc <id>`: the CPUs after the colon, as ids. */
export function tasksetList(id: number): number[] {
  const out = execFileSync('taskset', ['-pc', String(id)], { encoding: 'utf8' });
  return parseCpuList(out.slice(out.lastIndexOf(':') + 1));
}

/** `chrt -p <id>` -> { policy: 'SCHED_FIFO', priority: 10 }. */
export function chrtOf(id: number): { policy: string; priority: number } {
  const out = execFileSync('chrt', ['-p', String(id)], { encoding: 'utf8' });
  const policy = /policy: (\S+)/.exec(out)?.[1] ?? '?';
  const priority = Number(/priority: (\d+)/.exec(out)?.[1] ?? Number.NaN);
  return { policy, priority };
}

/** Field 19 of /proc/<pid>[/task/<tid>]/stat: the nice value. */
export function niceOf(pid: number, tid?: number): number {
  const file = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  const stat = readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[16]); // field 19 overall; the first two (pid, comm) are sliced off
}

/** A row of /proc/<pid>/limits: { soft, hard } as printed ('unlimited' or a number). */
export function limitOf(pid: number, label: string): { soft: string; hard: string } {
  const text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(label));
  if (line === undefined) throw new Error(`no "${label}" in /proc/${pid}/limits`);
  const cols = line.slice(label.length).trim().split(/\s+/);
  return { soft: cols[0] as string, hard: cols[1] as string };
}

/** Cpus_allowed_list of every thread of a process, keyed by tid. */
export function threadCpus(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  const tasks = execFileSync('ls', [`/proc/${pid}/task`], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  for (const t of tasks) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
      out.set(Number(t), /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '?');
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return out;
}
