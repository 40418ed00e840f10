// Driver for nano-spawn 2 (peer library on top of node:child_process). It has no raw byte stream:
// piped stdout is either buffered into one string (impossible for 1 GiB) or read through its
// line iterator, so the pipe scenario uses the line iterator over line-structured data.
import { destroyAll } from './common.js';

let spawn;

export default {
  name: 'nano-spawn',
  label: 'nano-spawn',
  pipeNote: 'line iterator (no raw byte stream in its API)',

  async load() {
    ({ default: spawn } = await import('nano-spawn'));
  },

  async spawnTrue(program) {
    await spawn(program, [], { stdio: 'ignore' });
  },

  spawnSleep(program, args, { stdio }) {
    const s = stdio === 'null' ? 'ignore' : stdio;
    const sub = spawn(program, args, { stdio: [s, s, s] });
    const handle = {
      child: sub,
      pid: undefined,
      proc: undefined,
      exited: sub.then(
        () => ({ code: 0, signal: null }),
        (err) => ({ code: err.exitCode ?? null, signal: err.signalName ?? null }),
      ),
      kill: (sig) => handle.proc.kill(sig),
      streams: () => [handle.proc?.stdin, handle.proc?.stdout, handle.proc?.stderr],
      destroyStreams: () =>
        destroyAll(handle.proc?.stdin, handle.proc?.stdout, handle.proc?.stderr),
    };
    handle.ready = sub.nodeChildProcess.then((proc) => {
      handle.proc = proc;
      handle.pid = proc.pid;
    });
    return handle;
  },

  async pipeBytes(program, args, { lines } = {}) {
    if (!lines) throw new Error('needs line-structured writer output (C writer not built)');
    const sub = spawn(program, args, { stdin: 'ignore', stdout: 'pipe', stderr: 'ignore' });
    let bytes = 0;
    for await (const line of sub.stdout) bytes += line.length + 1;
    await sub;
    return bytes;
  },
};
