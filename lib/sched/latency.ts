/**
 * PM QoS: holdCpuLatency keeps a CPU wake-up latency request open on /dev/cpu_dma_latency,
 * which stops cpuidle from entering idle states slower to leave than that (what cyclictest
 * does with 0 unless told otherwise). The kernel keeps the request exactly as long as the
 * descriptor is open: release() closes it, and so does the process ending, however it ends.
 */
import { open, readFile } from 'node:fs/promises';
import { invalid, ProcessError } from '../errors.js';

export const CPU_DMA_LATENCY = '/dev/cpu_dma_latency';
const CPUIDLE_DRIVER = '/sys/devices/system/cpu/cpuidle/current_driver';

export interface CpuLatencyHold {
  /** The latency asked for, in µs. */
  readonly us: number;
  /** The cpuidle driver in charge ('none', or absent: the request has nothing to limit). */
  readonly cpuidleDriver: string | null;
  /** False when there is no cpuidle driver: the request is held but changes nothing. */
  readonly effective: boolean;
  /** Closes the descriptor, which withdraws the request. Idempotent. */
  release(): Promise<void>;
}

/**
 * The system-wide latency limit in force now (µs), as the device reads: the smallest of all
 * open requests, 2000000000 when there are none. Null where the device is absent.
 * @example
 * await cpuLatencyInForce(); // 2000000000
 */
export async function cpuLatencyInForce(): Promise<number | null> {
  try {
    const fh = await open(CPU_DMA_LATENCY, 'r');
    try {
      const buf = Buffer.alloc(4);
      const { bytesRead } = await fh.read(buf, 0, 4, null);
      return bytesRead === 4 ? buf.readInt32LE(0) : null;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

async function cpuidleDriver(): Promise<string | null> {
  try {
    return (await readFile(CPUIDLE_DRIVER, 'utf8')).trim();
  } catch {
    return null;
  }
}

/**
 * Asks the kernel to keep CPU wake-up latency at or below `us` microseconds (0: no deep idle
 * states at all) until `release()`. Rejects ProcessError Unsupported where the kernel has no
 * /dev/cpu_dma_latency (no PM QoS: macOS, some containers), PermissionDenied without write
 * access to it (root, or a udev rule granting it). Where there is no cpuidle driver the
 * request is held but limits nothing: `effective` is false and says so.
 * @example
 * const qos = await holdCpuLatency(0);
 * // ... the realtime section ...
 * await qos.release();
 */
export async function holdCpuLatency(us: number): Promise<CpuLatencyHold> {
  if (typeof us !== 'number' || !Number.isInteger(us) || us < 0 || us > 0x7fffffff) {
    throw invalid('us', us, 'must be an integer number of µs in 0..2147483647');
  }
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(CPU_DMA_LATENCY, 'w');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO') {
      throw new ProcessError(
        'Unsupported',
        `holdCpuLatency(${us}): ${CPU_DMA_LATENCY} does not exist here (no PM QoS in this kernel or container): nothing to hold (${code})`,
        { code, syscall: 'open', path: CPU_DMA_LATENCY },
      );
    }
    const denied = code === 'EACCES' || code === 'EPERM';
    throw new ProcessError(
      denied ? 'PermissionDenied' : 'InvalidCommand',
      `holdCpuLatency(${us}): cannot open ${CPU_DMA_LATENCY} for writing` +
        (denied ? ' (it is root-only unless a udev rule grants it)' : '') +
        ` (${code})`,
      { code, syscall: 'open', path: CPU_DMA_LATENCY },
    );
  }
  const value = Buffer.alloc(4);
  value.writeInt32LE(us, 0);
  try {
    await fh.write(value, 0, 4, null);
  } catch (e) {
    await fh.close();
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new ProcessError(
      'InvalidCommand',
      `holdCpuLatency(${us}): the kernel refused the request (${code})`,
      { code, errno: (e as NodeJS.ErrnoException).errno, syscall: 'write' },
    );
  }
  const driver = await cpuidleDriver();
  let released = false;
  return {
    us,
    cpuidleDriver: driver,
    effective: driver !== null && driver !== 'none',
    async release() {
      if (released) return;
      released = true;
      await fh.close();
    },
  };
}
