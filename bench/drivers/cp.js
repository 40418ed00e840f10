// Driver for node:child_process, the reference every ratio in the report is computed against.
// Written the way a careful user would use the raw API (events, no extra abstraction).
import { spawn } from 'node:child_process';
import { destroyAll, drainCount, expectSuccess, nodeStdio } from './common.js';

function exitPromise(child) {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

export default {
  name: 'cp',
  label: 'node:child_process',

  async load() {},

  async spawnTrue(program) {
    const child = spawn(program, [], { stdio: 'ignore' });
    const { code, signal } = await exitPromise(child);
    expectSuccess(program, code, signal);
  },

  spawnSleep(program, args, { stdio }) {
    const child = spawn(program, args, { stdio: nodeStdio(stdio) });
    return {
      child,
      pid: child.pid,
      ready: Promise.resolve(),
      exited: exitPromise(child),
      kill: (sig) => child.kill(sig),
      streams: () => [child.stdin, child.stdout, child.stderr],
      destroyStreams: () => destroyAll(child.stdin, child.stdout, child.stderr),
    };
  },

  async pipeBytes(program, args) {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const [bytes, { code, signal }] = await Promise.all([
      drainCount(child.stdout),
      exitPromise(child),
    ]);
    expectSuccess(program, code, signal);
    return bytes;
  },

  /** What a user writes without a timed wait in the API: race 'exit' against setTimeout. */
  waitTimeout(handle, ms) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out')), ms);
      handle.exited.then((v) => {
        clearTimeout(timer);
        resolve(v);
      }, reject);
    });
  },

  isTimeoutError(err) {
    return err?.message === 'timed out';
  },
};
