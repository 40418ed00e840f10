// Chaos (issue 20): round after round, `core-process supervise` runs a tree (shell, background
// grandchild, setsid grandchild) under a restart policy and a health probe, is SIGKILLed at a
// random moment (before its child starts, while the child runs and probes run, in the restart
// backoff, around the respawn), and is started again. After each restart, from /proc and the
// cgroup and registry directories: exactly one copy of the tree, nothing left from older rounds,
// no cgroup of a dead supervisor, one registry entry naming the live supervisor and a child PID
// file naming its child. CORE_PROCESS_CHAOS_ROUNDS sets the rounds (default 200; `npm run
// stress:chaos` runs 2,000); the figures are printed at the end. The same runs, an eighth as
// many, with `--adopt`: there the tree outlives each kill on purpose and the next supervisor
// must adopt it, never start a second copy, and no cgroup may outlive both its supervisor
// and the child it is leased to. Without --adopt the tree runs in a PID namespace under our
// init where one can be made (the default, issue 29): then every round also counts what of the
// tree is still alive 100 ms after the kill -9, which must be nothing.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe } from 'vitest';
import { cgroupBase, leaseHolder } from '../../lib/process/cgroup.js';
import { pidNamespaceUnavailable } from '../../lib/process/pidns.js';
import { liveStartTime } from '../../lib/process/proc.js';
import { eventually, maskHas, procStatusField, scaled } from '../helpers.js';
import { asRoot } from '../optional.js';
import {
  Cli,
  type CliProcess,
  compiledCli,
  dead,
  type Proc,
  processesWith as tree,
} from './cli.js';

/** SIGKILL pending for `pid` (SigPnd or ShdPnd): it dies as soon as it next runs. */
function killPending(pid: number): boolean {
  try {
    return ['SigPnd', 'ShdPnd'].some((f) => maskHas(procStatusField(pid, f), 9));
  } catch {
    return true; // gone meanwhile
  }
}

const { itRoot } = asRoot('the chaos test (cgroups to find every leftover)');

const ROUNDS = Number(process.env.CORE_PROCESS_CHAOS_ROUNDS ?? 200);
const MOMENTS = ['before-spawn', 'running', 'mid-backoff', 'mid-respawn'] as const;
type Moment = (typeof MOMENTS)[number];

let bin: string;
beforeAll(async () => {
  bin = await compiledCli();
}, 120_000);

const ownerOf = (cgroup: string) => Number(/core-process\.(\d+)\./.exec(cgroup)?.[1] ?? 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T;

describe('chaos: kill -9 of supervise at random moments', () => {
  for (const [adopt, rounds] of [
    [false, ROUNDS],
    [true, Math.ceil(ROUNDS / 8)],
  ] as const) {
    itRoot(
      adopt
        ? `good: ${rounds} rounds with --adopt: the tree survives each kill and is adopted, one copy, no cgroup outlives both its owner and its lease holder`
        : `good: ${rounds} rounds leave exactly one copy, no orphan, no cgroup, a consistent registry${pidNamespaceUnavailable() === null ? ', and nothing of the tree alive 100 ms after each kill -9 (PID namespace)' : ''}`,
      async ({ expect, onTestFinished }) => {
        const t = new Cli(bin, onTestFinished);
        const token = `${process.pid}${Date.now() % 100_000}.5`;
        // sh (exec'd into sleep), its two sleeps, and our init where the tree has a PID namespace.
        const pidns = !adopt && pidNamespaceUnavailable() === null;
        const size = pidns ? 4 : 3;
        onTestFinished(() => {
          for (const p of tree(token)) process.kill(p.pid, 'SIGKILL');
        });
        const registry = path.join(t.state, 'core-process', 'daemons');
        const args = [
          'supervise',
          ...(adopt ? ['--adopt'] : []),
          '--name',
          'chaos',
          '--code',
          'chaos',
          '--restart',
          'always',
          '--backoff',
          '40ms',
          '--backoff-max',
          '40ms',
          '--max-restarts',
          '1000',
          '--health-cmd',
          'sleep 0.01',
          '--health-interval',
          '20ms',
          '--stop-grace',
          '500ms',
          '--',
          'sh',
          '-c',
          `sleep ${token} & setsid sleep ${token} & exec sleep ${token}`,
        ];
        const figures = {
          rounds: 0,
          orphans: 0,
          duplicates: 0,
          leftoverCgroups: 0,
          registry: 0,
          adopted: 0,
          aliveAfter100ms: 0,
        };
        const moments: Record<Moment, number> = {
          'before-spawn': 0,
          running: 0,
          'mid-backoff': 0,
          'mid-respawn': 0,
        };
        const dead_: number[] = [];
        const started = Date.now();
        let current: CliProcess = t.start(args);
        for (let round = 0; round < rounds; round++) {
          const moment = pick(MOMENTS);
          moments[moment]++;
          const sup = current;
          if (moment === 'before-spawn') {
            await sleep(Math.random() * 150);
          } else {
            const leader = Number(
              (await sup.waitFor('stderr', /(?:started|adopted) pid (\d+)/))[1],
            );
            if (moment === 'running') {
              await sleep(Math.random() * 60);
            } else {
              // The leader dies: the supervisor tears down the rest of the tree, then backs off.
              process.kill(leader, 'SIGKILL');
              await sup.waitFor('stderr', /restarting in/);
              if (moment === 'mid-respawn') await sleep(30 + Math.random() * 20);
            }
          }
          process.kill(sup.pid, 'SIGKILL');
          const killedAt = Date.now();
          await eventually(() => sup.exited, 10_000);
          dead_.push(sup.pid);
          if (pidns) {
            // The kernel kills the namespace when its init dies of PDEATHSIG: nothing of the
            // tree may be left 100 ms after the kill, with no restart involved.
            await sleep(Math.max(0, scaled(100) - (Date.now() - killedAt)));
            // Alive: in the tree and not already doomed. A member the kernel has sent SIGKILL
            // (the namespace's teardown) cannot escape it, but on a loaded machine it may wait
            // past 100 ms for a CPU to die on; that wait is the scheduler's, not ours. All of
            // them must still be gone within 10 s, before the next supervisor starts.
            figures.aliveAfter100ms += tree(token).filter((p) => !killPending(p.pid)).length;
            // The doomed die without a restart: none left 10 s on (else an orphan of ours).
            if (!(await eventually(() => tree(token).length === 0, 10_000))) figures.orphans++;
          }

          current = t.start(args);
          const leader = Number(
            (await current.waitFor('stderr', /(?:started|adopted) pid (\d+)/, 30_000))[1],
          );
          // Whose cgroup the tree must be in: the new supervisor's, or with --adopt, when it
          // adopted, the cgroup the tree already had (its dead supervisor's, leased to the leader).
          const own = (p: Proc) =>
            ownerOf(p.cgroup) === current.pid ||
            (adopt && leaseHolder(path.join(cgroupBase() ?? '/', p.cgroup)) === leader);
          // The new tree is whole (3 members) once it has forked and exec'd (a process reads as
          // no command line for a moment during exec): poll until it is, bounded. No poll may
          // ever see more than one copy.
          let now: Proc[] = [];
          let over = false;
          const whole = () => {
            now = tree(token);
            const leaders = now.filter((p) => p.pid === leader).length;
            if (now.length > size) over = true;
            return now.length === size && leaders === 1 && now.every(own);
          };
          await eventually(whole, 10_000);
          const foreign = now.filter((p) => !own(p));
          const leaders = now.filter((p) => p.pid === leader);
          figures.rounds++;
          if (cgroupBase() !== null) figures.orphans += foreign.length;
          else figures.orphans += now.filter((p) => p.ppid === 1 && !leaders.includes(p)).length;
          if (adopt) figures.adopted += /adopted pid/.test(current.stderr) ? 1 : 0;
          if (over || leaders.length !== 1 || now.length > size) figures.duplicates++;
          const base = cgroupBase();
          if (base !== null) {
            // A cgroup of a supervisor that is gone: its owner (pid and start time, from the name)
            // is not running. The pid alone is not enough: with pid_max 32768 and a probe every
            // 20 ms, a later supervisor of this very run can get a dead one's pid.
            const left = fs.readdirSync(base).filter((n) => {
              const m = /^core-process\.(\d+)\.(\d+)\.\d+$/.exec(n);
              if (m === null || !dead_.includes(Number(m[1]))) return false;
              if (liveStartTime(Number(m[1])) === m[2]) return false;
              return !adopt || leaseHolder(path.join(base, n)) === null;
            });
            figures.leftoverCgroups += left.length;
          }
          // It registers right after its first start: give it a (generous) moment.
          const consistent = () => {
            try {
              const entries = fs.readdirSync(registry).filter((n) => n.endsWith('.json'));
              const file = path.join(registry, 'chaos--chaos.json');
              const entry = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number };
              const child = fs.readFileSync(path.join(registry, 'chaos--chaos.child.pid'), 'utf8');
              return (
                entries.length === 1 &&
                entry.pid === current.pid &&
                (child === `${leader}\n` || dead(leader))
              );
            } catch {
              return false;
            }
          };
          if (!(await eventually(consistent, 10_000))) figures.registry++;
          expect(
            { round, moment, foreign, leaders: leaders.length, members: now.length },
            `round ${round}`,
          ).toEqual({ round, moment, foreign: [], leaders: 1, members: size });
        }
        current.child.kill('SIGTERM');
        await eventually(() => current.exited, 10_000);
        expect(await eventually(() => tree(token).length === 0, 10_000)).toBe(true);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        console.log(
          `chaos${adopt ? ' --adopt' : ''}: ${figures.rounds} rounds in ${seconds} s (${JSON.stringify(moments)}): ` +
            `orphans ${figures.orphans}, duplicates ${figures.duplicates}, ` +
            `leftover cgroups ${figures.leftoverCgroups}, registry inconsistencies ${figures.registry}` +
            (pidns
              ? `, tree processes alive 100 ms after a kill -9 ${figures.aliveAfter100ms}`
              : '') +
            (adopt ? `, adopted ${figures.adopted}` : ''),
        );
        expect({ ...figures, adopted: 0 }).toEqual({
          rounds,
          orphans: 0,
          duplicates: 0,
          leftoverCgroups: 0,
          registry: 0,
          adopted: 0,
          aliveAfter100ms: 0,
        });
        // Rounds that killed it while the tree ran must have been adopted, not replaced.
        if (adopt) expect(figures.adopted).toBeGreaterThanOrEqual(moments.running);
      },
      Math.max(600_000, rounds * 5000),
    );
  }
});
