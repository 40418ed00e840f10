// Driver for tinyexec 1 (peer library on top of node:child_process). The pipe scenario reads the
// raw ChildProcess stdout (awaiting the result alone would buffer 1 GiB into a string).
import { destroyAll, drainCount, expectSuccess, nodeStdio } from './common.js';

let x;

export default {
  name: 'tinyexec',
  label: 'tinyexec',

  async load() {
    ({ x } = await import('tinyexec'));
  },

  async spawnTrue(program) {
    const r = await x(program, [], { nodeOptions: { stdio: 'ignore' } });
    expectSuccess(program, r.exitCode, null);
  },

  spawnSleep(program, args, { stdio }) {
    const r = x(program, args, { nodeOptions: { stdio: nodeStdio(stdio) } });
    const proc = r.process;
    return {
      child: r,
      pid: r.pid,
      ready: Promise.resolve(),
      exited: Promise.resolve(r).then((out) => ({
        code: out.exitCode ?? null,
        signal: r.signalCode ?? null,
      })),
      kill: (sig) => r.kill(sig),
      streams: () => [proc?.stdin, proc?.stdout, proc?.stderr],
      destroyStreams: () => destroyAll(proc?.stdin, proc?.stdout, proc?.stderr),
    };
  },

  async pipeBytes(program, args) {
    const r = x(program, args, { nodeOptions: { stdio: ['ignore', 'pipe', 'ignore'] } });
    const bytes = await drainCount(r.process.stdout);
    const out = await r;
    expectSuccess(program, out.exitCode, r.signalCode ?? null);
    return bytes;
  },
};
