// process.pipeline through the service: specs pass the policy, are managed and listed like
// any other process, and cancelling the action kills the running groups (checked in /proc).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core } from '../../lib/core/index.js';
import type { PipelineResult } from '../../lib/runner/spec.js';
import { processService } from '../../lib/service/service.js';
import { testCore, until } from '../core/helpers.js';
import { liveGroupMembers as groupMembers, tempDir } from '../helpers.js';

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function started(options: Parameters<typeof processService>[0] = {}): Promise<Core> {
  const core = testCore();
  core.use(processService({ killGrace: 300, ...options }));
  await core.start();
  cores.push(core);
  return core;
}

describe('process.pipeline', () => {
  it('good: a diamond runs in dependency order and every spec is a listed managed process', async () => {
    const core = await started();
    const dir = tempDir();
    const log = path.join(dir, 'order');
    const step = (name: string, after: string[] = []) => ({
      name,
      command: 'sh',
      args: ['-c', `echo ${name} >> ${log}`],
      after,
    });
    const r = await core.action('process.pipeline').run({
      specs: [step('a'), step('b', ['a']), step('c', ['a']), step('d', ['b', 'c'])],
    });
    expect(r.ok).toBe(true);
    const result = (r.ok ? r.value : null) as PipelineResult;
    expect(result).toMatchObject({ success: true, passed: 4, failed: 0, skipped: 0 });
    const order = readFileSync(log, 'utf8').trim().split('\n');
    expect(order[0]).toBe('a');
    expect(order[3]).toBe('d');
    const list = await core.action('process.list').run();
    const commands = (list.ok ? (list.value as Array<{ command: string }>) : []).map(
      (p) => p.command,
    );
    expect(commands.filter((c) => c.endsWith('sh'))).toHaveLength(4);
  });

  it('bad: a spec the policy refuses fails with PermissionDenied, skips its dependents, runs nothing', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'ran');
    const core = await started({ policy: { allow: ['true'] } });
    const r = await core.action('process.pipeline').run({
      specs: [
        { name: 'ok', command: 'true' },
        { name: 'evil', command: 'touch', args: [marker] },
        { name: 'after-evil', command: 'true', after: ['evil'] },
      ],
    });
    const result = (r.ok ? r.value : null) as PipelineResult;
    expect(result.success).toBe(false);
    expect(result.specs.map((s) => s.status)).toEqual(['passed', 'failed', 'skipped']);
    expect(result.specs[1]?.error).toMatch(/not in the allow list/);
    expect(existsSync(marker)).toBe(false);
  });

  it('bad: a cycle is a failed Result naming it, and nothing starts', async () => {
    const core = await started();
    const r = await core.action('process.pipeline').run({
      specs: [
        { name: 'a', command: 'true', after: ['b'] },
        { name: 'b', command: 'true', after: ['a'] },
      ],
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.message).toMatch(/dependency cycle a -> b -> a/);
    const list = await core.action('process.list').run();
    expect(list.ok && list.value).toEqual([]);
  });

  it('ugly: aborting the action kills the running group, grandchildren included, and skips the rest', async () => {
    const core = await started();
    const controller = new AbortController();
    const pending = core.action('process.pipeline').run(
      {
        specs: [
          { name: 'long', command: 'sh', args: ['-c', 'sleep 30 & sleep 30 & wait'] },
          { name: 'next', command: 'true', after: ['long'] },
        ],
      },
      { signal: controller.signal },
    );
    let pgid = 0;
    await until(() => {
      const running = [...readdirSync('/proc')].filter((e) => /^\d+$/.test(e));
      for (const e of running) {
        try {
          const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          if (Number(f[1]) === process.pid && stat.includes('(sh)')) pgid = Number(f[2]);
        } catch {
          // gone
        }
      }
      return pgid !== 0 && groupMembers(pgid).length === 3;
    });
    controller.abort(new Error('user gave up'));
    const r = await pending;
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error.kind).toBe('Aborted');
    await until(() => groupMembers(pgid).length === 0);
  });
});
