/**
 * What /proc says about a pid: its start time (which tells a process apart from a later one
 * that reuses its pid) and whether it is still a live process rather than a zombie.
 */
import { readFileSync } from 'node:fs';

interface ProcStat {
  state: string;
  startTime: string;
}

function procStat(pid: number): ProcStat | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // ESRCH: the process exited between the open and the read.
    if (code === 'ENOENT' || code === 'ESRCH') return null;
    throw e;
  }
  // comm (field 2) may hold spaces and ')', so the fixed fields start after the LAST ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !/^\d+$/.test(startTime)) return null;
  return { state, startTime };
}

/**
 * Field 22 of /proc/<pid>/stat (starttime, in clock ticks since boot), or null when the pid
 * does not exist. Together with the pid it names one process for the life of the system: a
 * recycled pid has a different start time.
 * @example
 * processStartTime(process.pid); // '1234567'
 * processStartTime(999_999_999); // null
 */
export function processStartTime(pid: number): string | null {
  return procStat(pid)?.startTime ?? null;
}

/**
 * The start time of `pid` when it is a live process; null when it does not exist or is a
 * zombie (it has exited and only waits to be reaped, so it holds nothing any more).
 * @example
 * const alive = liveStartTime(record.pid) === record.startTime; // the same process, still running
 */
export function liveStartTime(pid: number): string | null {
  const stat = procStat(pid);
  if (stat === null || stat.state === 'Z' || stat.state === 'X') return null;
  return stat.startTime;
}

// USER_HZ: the unit of /proc/<pid>/stat times. The kernel fixes it at 100 for user space on
// every architecture Node runs on (sysconf(_SC_CLK_TCK)).
const TICKS_PER_SECOND = 100;
// /proc/uptime and starttime are in hundredths; a file written within that of its writer's
// start must not read as written before it. A wall-clock step between the write and the check
// larger than this (a manual `date -s`, not an NTP slew) can misjudge a live writer.
const TOLERANCE_MS = 2000;

/**
 * True when the process with /proc start time `startTime` started after the wall-clock time
 * `wallMs` (beyond a small tolerance): it cannot be what wrote a file with that mtime.
 * @example
 * startedAfter(processStartTime(pid)!, statSync(file).mtimeMs); // true: the pid was recycled
 */
export function startedAfter(startTime: string, wallMs: number): boolean {
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const bootWallMs = Date.now() - uptimeS * 1000;
  const startWallMs = bootWallMs + (Number(startTime) * 1000) / TICKS_PER_SECOND;
  return startWallMs > wallMs + TOLERANCE_MS;
}
