// holdCpuLatency: the PM QoS request is read back from /dev/cpu_dma_latency by `od` (not by
// the code under test) while held, after release(), and after a holder is SIGKILLed.
import cp, { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessError } from '../../lib/errors.js';
import { CPU_DMA_LATENCY, holdCpuLatency } from '../../lib/sched/latency.js';
import { asRoot } from '../optional.js';
import { childEnv, compiledLib, FIXTURES, removeCompiledLib, runNode } from '../subprocess.js';

const { itRoot } = asRoot('holding /dev/cpu_dma_latency (root-only device)');
const present = existsSync(CPU_DMA_LATENCY);

/** The latency limit in force, as `od` reads the device: the smallest open request. */
function inForce(): number {
  return Number(
    execFileSync('od', ['-An', '-td4', '-N4', CPU_DMA_LATENCY], { encoding: 'utf8' }).trim(),
  );
}

let lib: string;
beforeAll(async () => {
  lib = await compiledLib();
}, 120_000);
afterAll(removeCompiledLib);

describe.skipIf(!present)('holdCpuLatency', () => {
  itRoot('the device reads the held value while held, and the old one after release', async () => {
    const before = inForce();
    const h = await holdCpuLatency(7);
    try {
      expect(inForce()).toBe(Math.min(7, before));
    } finally {
      await h.release();
    }
    expect(inForce()).toBe(before);
    await h.release(); // idempotent
  });

  itRoot('a SIGKILLed holder leaves nothing behind: the kernel withdraws the request', async () => {
    const before = inForce();
    const child = cp.spawn(process.execPath, [path.join(FIXTURES, 'rt-latency.mjs'), lib, '3'], {
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const line = await new Promise<string>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(d.toString())),
    );
    expect(JSON.parse(line)).toMatchObject({ ok: true, us: 3 });
    expect(inForce()).toBe(Math.min(3, before));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    expect(inForce()).toBe(before);
  });

  it('without write access to the device it is PermissionDenied saying so', async () => {
    const opts = process.getuid?.() === 0 ? { asUser: 65534 } : {};
    const r = await runNode('rt-latency.mjs', [lib, '0'], childEnv(), opts);
    const out = JSON.parse(r.stdout) as { ok: boolean; kind: string; message: string };
    expect(out.ok).toBe(false);
    expect(out.kind).toBe('PermissionDenied');
    expect(out.message).toContain('/dev/cpu_dma_latency');
  });

  it('rejects a negative or fractional latency before opening anything', async () => {
    for (const bad of [-1, 1.5, 2 ** 31]) {
      await expect(holdCpuLatency(bad)).rejects.toBeInstanceOf(ProcessError);
      await expect(holdCpuLatency(bad)).rejects.toMatchObject({
        kind: 'InvalidCommand',
        field: 'us',
      });
    }
  });
});
