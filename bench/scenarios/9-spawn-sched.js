// Scenario 9: what spawning with scheduling settings costs. Sequential spawn+wait of /bin/true
// (stdio null), like scenario 1, for:
//   core            plain spawn
//   core-settings   spawn({ affinity: [CPU], nice: 5, rlimits: { nofile: 1024, core: 0 } }):
//                   applied in the child between fork and exec, no extra process
//   cp              node:child_process, plain
//   cp-taskset      cp spawning `taskset -c CPU /bin/true` (affinity only: one extra exec)
//   cp-full         cp spawning `taskset -c CPU nice -n 5 prlimit --nofile=1024 --core=0 /bin/true`,
//                   the honest equivalent of core-settings (three extra execs)
//   execa-taskset   execa with the taskset wrapper (when execa is installed)
// Before timing, one child of core-settings (and of cp-full) prints its own /proc status, stat
// and limits, to check that the settings really reached the child.
import { spawn as cpSpawn } from 'node:child_process';
import { once } from 'node:events';
import { expectSuccess } from '../drivers/common.js';
import { cpuAffinity, TRUE_BIN } from '../lib/proc.js';
import { errorText, roundRobin, sequentialContenders } from '../lib/runner.js';
import { which } from '../lib/sched.js';
import { opsRows } from '../lib/stats.js';

export const id = 9;
export const title = 'spawn+wait with affinity + nice + rlimits vs plain and taskset wrappers';

const NICE = 5;
const NOFILE = 1024;

function pickCpu() {
  const aff = cpuAffinity();
  if (aff.error) return 1;
  return aff.cpus.includes(1) ? 1 : aff.cpus[aff.cpus.length - 1];
}

function cpRun(file, args) {
  const child = cpSpawn(file, args, { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      try {
        expectSuccess(file, code, signal);
        resolve();
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Checks the /proc/self/{status,stat,limits} text a child printed against the settings. */
function checkChild(text, cpu) {
  const cpus = /^Cpus_allowed_list:\s*(\S+)/m.exec(text)?.[1];
  const statLine = text.split('\n').find((l) => /^\d+ \(cat\) /.test(l));
  const nice = statLine
    ? Number(statLine.slice(statLine.lastIndexOf(')') + 2).split(' ')[16])
    : null;
  const nofile = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  const core = /^Max core file size\s+(\S+)\s+(\S+)/m.exec(text);
  const seen = {
    cpus,
    nice,
    nofile: nofile ? `${nofile[1]}/${nofile[2]}` : null,
    core: core ? `${core[1]}/${core[2]}` : null,
  };
  const ok =
    cpus === String(cpu) && nice === NICE && nofile?.[1] === String(NOFILE) && core?.[1] === '0';
  return { ok, seen };
}

const CHECK_ARGS = ['/proc/self/status', '/proc/self/stat', '/proc/self/limits'];

async function verifyCore(lib, settings, cpu) {
  const child = lib.spawn({
    program: '/bin/cat',
    args: CHECK_ARGS,
    stdin: 'null',
    stdout: 'pipe',
    stderr: 'null',
    ...settings,
  });
  const chunks = [];
  child.stdout.on('data', (c) => chunks.push(c));
  const [status] = await Promise.all([child.exited, once(child.stdout, 'end')]);
  expectSuccess('cat', status.code, status.signal);
  return checkChild(Buffer.concat(chunks).toString('latin1'), cpu);
}

async function verifyCp(wrapper, cpu) {
  const child = cpSpawn(wrapper[0], [...wrapper.slice(1), 'cat', ...CHECK_ARGS], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const chunks = [];
  child.stdout.on('data', (c) => chunks.push(c));
  const [[code, signal]] = await Promise.all([once(child, 'exit'), once(child.stdout, 'end')]);
  expectSuccess(wrapper[0], code, signal);
  return checkChild(Buffer.concat(chunks).toString('latin1'), cpu);
}

export async function run(ctx) {
  // Full: 10 alternating rounds of 100, so machine noise spreads evenly (the settings cost is
  // a few per cent, less than the round-to-round noise on a small VM).
  const rounds = ctx.quick ? 2 : 10;
  const perRound = ctx.quick ? 50 : 100;
  const warmup = 20;
  const cpu = pickCpu();
  const errors = {};
  const notes = [];
  const targets = [];
  const settings = { affinity: [cpu], nice: NICE, rlimits: { nofile: NOFILE, core: 0 } };
  const taskset = ['taskset', '-c', String(cpu)];
  const full = [
    ...taskset,
    'nice',
    '-n',
    String(NICE),
    'prlimit',
    `--nofile=${NOFILE}`,
    '--core=0',
  ];
  const missing = ['taskset', 'nice', 'prlimit'].filter((t) => !which(t));

  let settingsOk = true;
  const ops = {}; // name → () => Promise<void>: one spawn + wait
  const core = ctx.drivers.find((d) => d.name === 'core');
  if (core) {
    const lib = core.api('spawn');
    const base = { program: TRUE_BIN, args: [], stdin: 'null', stdout: 'null', stderr: 'null' };
    const spawnWait = async (opts) => {
      const status = await lib.spawn(opts).exited;
      expectSuccess(TRUE_BIN, status.code, status.signal);
    };
    ops.core = () => spawnWait(base);
    const withSettings = { ...base, ...settings };
    ops['core-settings'] = () => spawnWait(withSettings);
    try {
      const v = await verifyCore(lib, settings, cpu);
      settingsOk = v.ok;
      targets.push({
        text: `core child really got affinity [${cpu}], nice ${NICE}, nofile ${NOFILE}, core 0`,
        pass: v.ok,
        measured: JSON.stringify(v.seen),
      });
      if (!v.ok) notes.push(`!!! core child did NOT get the settings: ${JSON.stringify(v.seen)}`);
    } catch (err) {
      errors['core-settings'] = `verification spawn failed: ${errorText(err)}`;
      delete ops['core-settings'];
    }
  }
  if (ctx.drivers.some((d) => d.name === 'cp')) {
    ops.cp = () => cpRun(TRUE_BIN, []);
    if (!missing.includes('taskset'))
      ops['cp-taskset'] = () => cpRun('taskset', taskset.slice(1).concat(TRUE_BIN));
    if (!missing.length) {
      const args = full.slice(1).concat(TRUE_BIN);
      ops['cp-full'] = () => cpRun(full[0], args);
      try {
        const v = await verifyCp(full, cpu);
        if (!v.ok)
          notes.push(`cp-full wrapper child did not get the settings: ${JSON.stringify(v.seen)}`);
      } catch (err) {
        notes.push(`cp-full verification failed: ${errorText(err)}`);
      }
    }
  }
  if (missing.length) notes.push(`not on PATH: ${missing.join(', ')} (wrapper rows skipped)`);
  const execaDriver = ctx.drivers.find((d) => d.name === 'execa');
  if (execaDriver && !missing.includes('taskset')) {
    const { execa } = await import('execa');
    const args = taskset.slice(1).concat(TRUE_BIN);
    ops['execa-taskset'] = async () => {
      const r = await execa('taskset', args, { stdio: 'ignore' });
      expectSuccess('taskset', r.exitCode, r.signal ?? null);
    };
  }

  const contenders = sequentialContenders(ops, perRound);
  for (const [name, op] of Object.entries(ops)) {
    try {
      for (let i = 0; i < warmup; i++) await op();
    } catch (err) {
      errors[name] = `warm-up: ${errorText(err)}`;
    }
  }
  const live = contenders.filter((c) => !errors[c.name]);
  const rr = await roundRobin(live, { rounds, log: ctx.log });
  Object.assign(errors, rr.errors);

  const rows = opsRows(live, rr.samples);
  // Timings of a spawn that did not apply the settings prove nothing: report, do not judge.
  const judge = settingsOk ? {} : { min: undefined };
  const unjudged = settingsOk ? '' : ' — NOT judged: the settings did not reach the child';
  const corePlain = rows.find((r) => r.impl === 'core');
  for (const r of rows) r.cost = corePlain ? corePlain.value / r.value : null;

  const wrapperText = `taskset -c ${cpu}`;
  targets.push(
    {
      text: `core-settings cost ≤ 1.2× core plain (ops/s ratio ≥ 0.833)${unjudged}`,
      impl: 'core-settings',
      vs: 'core',
      min: 1 / 1.2,
      ...judge,
    },
    {
      text: `core-settings ≥ 1.3× cp spawning \`${wrapperText} /bin/true\`${unjudged}`,
      impl: 'core-settings',
      vs: 'cp-taskset',
      min: 1.3,
      ...judge,
    },
    {
      text: `core-settings ≥ 1.3× cp spawning the full taskset+nice+prlimit wrapper${unjudged}`,
      impl: 'core-settings',
      vs: 'cp-full',
      min: 1.3,
      ...judge,
    },
  );
  return {
    unit: 'ops/s',
    higherIsBetter: true,
    params: {
      rounds,
      perRound,
      program: TRUE_BIN,
      settings: JSON.stringify(settings),
      cpTaskset: `${taskset.join(' ')} ${TRUE_BIN}`,
      cpFull: `${full.join(' ')} ${TRUE_BIN}`,
    },
    labels: {
      core: 'core plain',
      'core-settings': 'core affinity+nice+rlimits',
      cp: 'child_process plain',
      'cp-taskset': 'cp taskset',
      'cp-full': 'cp taskset+nice+prlimit',
      'execa-taskset': 'execa taskset',
    },
    columns: [
      { key: 'value', title: 'ops/s (median)' },
      { key: 'cost', title: 'cost ÷ core plain', kind: 'ratio' },
      { key: 'ratio', title: 'vs cp', kind: 'ratio' },
      { key: 'p50', title: 'p50 µs' },
      { key: 'p99', title: 'p99 µs' },
      { key: 'min', title: 'min ops/s' },
      { key: 'max', title: 'max ops/s' },
    ],
    rows,
    errors,
    notes,
    targets,
  };
}
