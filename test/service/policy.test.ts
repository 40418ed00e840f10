// The security policy of the process service: reviewed at startup, then deciding every spawn
// before any syscall. Refusals are checked from outside: a marker file the refused program
// would have created is absent, and what was allowed is read back from /proc, taskset, chrt.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Core, CoreEvent } from '../../lib/core/index.js';
import { onlineCpus } from '../../lib/sched/cpus.js';
import { verifyPolicy } from '../../lib/service/policy.js';
import { type ProcessServiceOptions, processService } from '../../lib/service/service.js';
import { testCore, until } from '../core/helpers.js';
import { procStatusField, tempDir } from '../helpers.js';
import { asRoot } from '../optional.js';
import { chrtOf, limitOf, tasksetList } from '../sched/observe.js';

const { itRoot } = asRoot('granting realtime and id changes through the policy');

const cores: Core[] = [];
afterEach(async () => {
  for (const c of cores.splice(0)) await c.stop();
});

async function withPolicy(
  policy: ProcessServiceOptions['policy'],
): Promise<Core & { denied: CoreEvent[] }> {
  const core = testCore();
  const svc = processService({ killGrace: 200, policy });
  core.use(svc);
  core.setEntitlementChecker(svc.entitlements);
  const denied: CoreEvent[] = [];
  core.events.subscribe('security.denied', (e) => {
    denied.push(e);
  });
  await core.start();
  cores.push(core);
  return Object.assign(core, { denied });
}

function capEff(bit: number): boolean {
  const mask = BigInt(`0x${procStatusField('self', 'CapEff')}`);
  return (mask & (1n << BigInt(bit))) !== 0n;
}

/** This process's hard limit from /proc/self/limits (Infinity for unlimited). */
function ourHard(label: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(label));
  const hard = line?.slice(26).trim().split(/\s+/)[1];
  return hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard);
}

async function startSleep(core: Core, extra: Record<string, unknown> = {}) {
  const r = await core.action('process.start').run({ command: 'sleep', args: ['30'], ...extra });
  if (!r.ok) throw r.error;
  const id = (r.value as { id: string }).id;
  const snap = await core.action('process.get').run({ id });
  return { id, pid: (snap.ok ? (snap.value as { pid: number }).pid : 0) as number };
}

describe('verifyPolicy', () => {
  itRoot('good: a coherent policy over this machine passes', () => {
    const report = verifyPolicy({
      allow: ['sh', { program: '/bin/true' }, { program: 'echo', args: ['*', '...'] }],
      maxProcesses: 8,
      maxRealtimePriority: 10,
      cpus: onlineCpus(),
      rlimits: { default: { nofile: 256 }, max: { nofile: 1024 } },
      allowIdChange: false,
    });
    expect(report).toEqual({ ok: true, problems: [] });
  });

  it('bad: each contradiction is reported naming the field and value', () => {
    const { problems } = verifyPolicy({
      allow: ['no-such-program-zz', { program: 'echo', args: ['...', 'x'] }],
      cpus: [0, 4095],
      maxRealtimePriority: 100,
      rlimits: { default: { nofile: 2048 }, max: { nofile: 1024 } },
    });
    const byField = Object.fromEntries(problems.map((p) => [p.field, p]));
    expect(byField['allow.0']?.message).toMatch(
      /"no-such-program-zz" is not an executable file in PATH/,
    );
    expect(byField['allow.1.args.0']?.message).toMatch(/only be the last/);
    expect(byField['cpus.1']).toMatchObject({ value: 4095 });
    expect(byField['cpus.1']?.message).toMatch(/CPU 4095 is not online/);
    expect(byField.maxRealtimePriority?.message).toMatch(
      /above the kernel's highest realtime priority 99/,
    );
    expect(byField['rlimits.default.nofile']?.message).toMatch(/above rlimits.max.nofile/);
  });

  it('bad: a malformed policy names the field zod found', () => {
    const report = verifyPolicy({ maxProcesses: -1 } as never);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({ field: 'maxProcesses', value: -1 });
    expect(verifyPolicy({ allowed: ['sh'] } as never).problems[0]?.message).toMatch(/allowed/);
  });

  it('ugly: a ceiling above our own hard limit is a problem exactly when we cannot raise it', () => {
    const hard = ourHard('Max open files');
    const report = verifyPolicy({ rlimits: { max: { nofile: hard + 1 } } });
    if (capEff(24)) expect(report.ok).toBe(true);
    else expect(report.problems[0]?.message).toMatch(/only CAP_SYS_RESOURCE may raise/);
  });
});

describe('processService({ policy }) allow list', () => {
  it('good: an allowed program runs, by the absolute path the policy resolved', async () => {
    const core = await withPolicy({ allow: ['echo'] });
    expect(await core.action('process.run').run({ command: 'echo', args: ['hi'] })).toEqual({
      ok: true,
      value: 'hi\n',
    });
  });

  it('bad: a program outside the list is PermissionDenied, never runs, and security.denied is published', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'ran');
    const core = await withPolicy({ allow: ['echo'] });
    const r = await core.action('process.run').run({ command: 'touch', args: [marker] });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied', field: 'program' });
    expect(!r.ok && r.error.message).toMatch(
      /program "touch" \(.*\/touch\) is not in the allow list/,
    );
    expect(existsSync(marker)).toBe(false);
    await until(() => core.denied.length === 1);
    expect(core.denied[0]?.payload).toMatchObject({ action: 'process.run', field: 'program' });
  });

  it('bad: arguments must match one of the program patterns; "..." allows the rest', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'ran');
    const core = await withPolicy({
      allow: [
        { program: 'sh', args: ['-c', 'echo *'] },
        { program: 'printf', args: ['%s-%s', '...'] },
      ],
    });
    expect(
      await core.action('process.run').run({ command: 'sh', args: ['-c', 'echo a/b'] }),
    ).toEqual({
      ok: true,
      value: 'a/b\n',
    });
    const refused = await core
      .action('process.run')
      .run({ command: 'sh', args: ['-c', `touch ${marker}`] });
    expect(!refused.ok && refused.error).toMatchObject({ kind: 'PermissionDenied', field: 'args' });
    expect(existsSync(marker)).toBe(false);
    expect(
      await core.action('process.run').run({ command: 'printf', args: ['%s-%s', 'a', 'b', 'c'] }),
    ).toEqual({ ok: true, value: 'a-bc-' });
    const short = await core.action('process.run').run({ command: 'printf', args: [] });
    expect(short.ok).toBe(false);
  });

  it('ugly: a PATH in the request cannot swap an allowed name for another file', async () => {
    const dir = tempDir();
    const marker = path.join(dir, 'ran');
    const fake = path.join(dir, 'echo');
    writeFileSync(fake, `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(fake, 0o755);
    const core = await withPolicy({ allow: ['echo'] });
    const r = await core
      .action('process.run')
      .run({ command: 'echo', args: ['x'], env: { PATH: `${dir}:/usr/bin:/bin` } });
    expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied' });
    expect(!r.ok && r.error.message).toContain(fake);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('processService({ policy }) ceilings', () => {
  it('good: maxProcesses caps running children, and entitled() shows what remains', async () => {
    const core = await withPolicy({ maxProcesses: 2 });
    expect(core.entitled('process.start')).toMatchObject({ allowed: true, limit: 2, remaining: 2 });
    const a = await startSleep(core);
    await startSleep(core);
    expect(core.entitled('process.start')).toMatchObject({ allowed: false, remaining: 0 });
    const third = await core.action('process.start').run({ command: 'sleep', args: ['30'] });
    expect(!third.ok && third.error.kind).toBe('NotEntitled');
    await core.action('process.kill').run({ id: a.id, signal: 'SIGKILL' });
    await core.action('process.wait').run({ id: a.id });
    expect(core.entitled('process.start')).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('bad: past the checker (default allow-all), the policy itself still refuses the extra process', async () => {
    const core = testCore();
    core.use(processService({ killGrace: 200, policy: { maxProcesses: 1 } }));
    await core.start();
    cores.push(core);
    await startSleep(core);
    const r = await core.action('process.start').run({ command: 'sleep', args: ['30'] });
    expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied', field: 'maxProcesses' });
  });

  it('good: children without affinity get the allowed CPU set (taskset), one outside it is refused', async () => {
    const cpu = onlineCpus().at(-1) as number;
    const core = await withPolicy({ cpus: [cpu] });
    const { pid } = await startSleep(core);
    expect(tasksetList(pid)).toEqual([cpu]);
    const other = onlineCpus().find((c) => c !== cpu);
    if (other === undefined) return; // a one-CPU machine has nothing outside the set
    const r = await core
      .action('process.start')
      .run({ command: 'sleep', args: ['30'], affinity: [other] });
    expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied', field: 'affinity' });
    const t = await core
      .action('thread.create')
      .run({ module: 'data:text/javascript,export default () => 1', affinity: [other] });
    expect(!t.ok && t.error).toMatchObject({ kind: 'PermissionDenied', field: 'affinity' });
  });

  itRoot(
    'good: realtime up to maxRealtimePriority is granted (chrt), above it refused',
    async () => {
      const core = await withPolicy({ maxRealtimePriority: 10 });
      const { pid } = await startSleep(core, { scheduler: { policy: 'fifo', priority: 5 } });
      expect(chrtOf(pid)).toEqual({ policy: 'SCHED_FIFO', priority: 5 });
      const r = await core
        .action('process.start')
        .run({ command: 'sleep', args: ['30'], scheduler: { policy: 'rr', priority: 20 } });
      expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied', field: 'scheduler' });
      expect(!r.ok && r.error.message).toMatch(/priority 20 is above maxRealtimePriority 10/);
      const t = await core
        .action('thread.create')
        .run({ module: 'data:text/javascript,export default () => 1', priority: 'realtime' });
      expect(!t.ok && t.error).toMatchObject({ kind: 'PermissionDenied', field: 'priority' });
    },
  );

  it('good: default rlimits reach the child (/proc/<pid>/limits); above the maximum is refused', async () => {
    const core = await withPolicy({
      rlimits: { default: { nofile: 256 }, max: { nofile: 512, core: 0 } },
    });
    const { pid } = await startSleep(core);
    expect(limitOf(pid, 'Max open files')).toEqual({ soft: '256', hard: '256' });
    expect(limitOf(pid, 'Max core file size')).toEqual({ soft: '0', hard: '0' });
    const asked = await startSleep(core, { rlimits: { nofile: 300 } });
    expect(limitOf(asked.pid, 'Max open files')).toEqual({ soft: '300', hard: '300' });
    const r = await core
      .action('process.start')
      .run({ command: 'sleep', args: ['30'], rlimits: { nofile: 1024 } });
    expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied', field: 'rlimits.nofile' });
  });

  itRoot(
    'bad: uid/gid changes are refused unless allowIdChange; allowed ones show in /proc',
    async () => {
      const strict = await withPolicy({});
      const r = await strict
        .action('process.start')
        .run({ command: 'sleep', args: ['30'], uid: 65534, gid: 65534 });
      expect(!r.ok && r.error).toMatchObject({ kind: 'PermissionDenied', field: 'uid' });
      const open = await withPolicy({ allowIdChange: true });
      const { pid } = await startSleep(open, { uid: 65534, gid: 65534 });
      expect(procStatusField(pid, 'Uid').split(/\s+/)[0]).toBe('65534');
    },
  );

  it('ugly: a policy that contradicts the machine fails core.start() naming the problem', async () => {
    const core = testCore();
    core.use(processService({ policy: { allow: ['no-such-program-zz'], cpus: [4095] } }));
    await expect(core.start()).rejects.toThrow(/no-such-program-zz[\s\S]*CPU 4095 is not online/);
  });
});
