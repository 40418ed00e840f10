// A child spawned from a pinned realtime worker: by default it runs with the process's
// baseline (all CPUs, SCHED_OTHER), not the worker's CPU 1 at SCHED_FIFO 50; with
// inheritScheduling it gets exactly the worker's. Read from outside with taskset and chrt.
import { readFileSync } from 'node:fs';
import { afterAll, expect } from 'vitest';
import { joinThread } from '../../lib/index.js';
import { eventually } from '../helpers.js';
import { asRoot } from '../optional.js';
import { ADDON, compiledLib, removeCompiledLib } from '../subprocess.js';
import { chrt, messageFrom, tasksetCpus, threadStarter } from './helpers.js';

const { itRoot } = asRoot('a realtime thread spawning children');

const start = threadStarter();
afterAll(() => removeCompiledLib());

const asleep = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
  } catch {
    return false;
  }
};

itRoot(
  'children of a pinned realtime thread get the baseline unless they ask to inherit',
  async () => {
    const index = await compiledLib();
    // Plain Node inside the worker loads the compiled library; point it at this suite's addon.
    const previous = process.env.CORE_PROCESS_ADDON;
    process.env.CORE_PROCESS_ADDON = ADDON;
    try {
      const t = await start('spawner.mjs', {
        affinity: [1],
        priority: 'realtime',
        data: { index },
      });
      expect(tasksetCpus(t.tid)).toEqual([1]);
      expect(chrt(t.tid)).toEqual({ policy: 'SCHED_FIFO|SCHED_RESET_ON_FORK', priority: 50 });
      const m = await messageFrom<{ type: string; plain: number; inheriting: number }>(
        t.worker,
        (x) => x.type === 'spawned',
      );
      expect(await eventually(() => asleep(m.plain) && asleep(m.inheriting))).toBe(true);
      expect(tasksetCpus(m.plain)).toEqual([0, 1]);
      expect(chrt(m.plain)).toEqual({ policy: 'SCHED_OTHER', priority: 0 });
      expect(tasksetCpus(m.inheriting)).toEqual([1]);
      expect(chrt(m.inheriting)).toEqual({ policy: 'SCHED_FIFO', priority: 50 });
      t.worker.postMessage('release');
      expect((await joinThread(t, { timeout: 10_000 })).value).toEqual(['SIGKILL', 'SIGKILL']);
    } finally {
      if (previous === undefined) delete process.env.CORE_PROCESS_ADDON;
      else process.env.CORE_PROCESS_ADDON = previous;
    }
  },
);
