// Driver for execa 9 (peer library on top of node:child_process), used through its documented
// promise API; the pipe scenario uses `buffer: false` and reads subprocess.stdout directly.
import { destroyAll, drainCount, expectSuccess, nodeStdio } from './common.js';

let execa;

export default {
  name: 'execa',
  label: 'execa',

  async load() {
    ({ execa } = await import('execa'));
  },

  async spawnTrue(program) {
    const r = await execa(program, [], { stdio: 'ignore' });
    expectSuccess(program, r.exitCode, r.signal ?? null);
  },

  spawnSleep(program, args, { stdio }) {
    const sub = execa(program, args, { stdio: nodeStdio(stdio), reject: false });
    return {
      child: sub,
      pid: sub.pid,
      ready: Promise.resolve(),
      exited: sub.then((r) => ({ code: r.exitCode ?? null, signal: r.signal ?? null })),
      kill: (sig) => sub.kill(sig),
      streams: () => [sub.stdin, sub.stdout, sub.stderr],
      destroyStreams: () => destroyAll(sub.stdin, sub.stdout, sub.stderr),
    };
  },

  async pipeBytes(program, args) {
    const sub = execa(program, args, {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'ignore',
      buffer: false,
    });
    const [bytes, r] = await Promise.all([drainCount(sub.stdout), sub]);
    expectSuccess(program, r.exitCode, r.signal ?? null);
    return bytes;
  },
};
