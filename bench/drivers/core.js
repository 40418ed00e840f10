// Driver for this project (@core/process, built into dist/). It is loaded lazily so the rest of
// the suite still runs (and says why core is missing) before `npm run build` has produced dist/.
import { existsSync, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { destroyAll, drainCount, expectSuccess, signalName } from './common.js';

const DIST = new URL('../../dist/index.js', import.meta.url);
let lib;

function exitInfo(status) {
  return { code: status.code ?? null, signal: signalName(status.signal), raw: status };
}

// Counts a child's stdout through a caller-owned buffer: no allocation per read.
async function onreadBytes(program, args, size) {
  let n = 0;
  const buffer = Buffer.allocUnsafe(size);
  const callback = (nread) => {
    n += nread;
  };
  const child = lib.spawn({
    program,
    args,
    stdin: 'null',
    stdout: { onread: { buffer, callback } },
    stderr: 'null',
  });
  const [, status] = await Promise.all([finished(child.stdout), child.exited]);
  expectSuccess(program, status.code, status.signal);
  return n;
}

// writer | cat through pipeline(): the kernel moves writer -> cat, we count cat's output.
async function pipelineBytes(program, args) {
  let n = 0;
  const buffer = Buffer.allocUnsafe(64 * 1024);
  const r = await lib.pipeline([{ program, args }, { program: 'cat' }], {
    stderr: 'null',
    stdout: {
      onread: {
        buffer,
        callback: (nread) => {
          n += nread;
        },
      },
    },
  });
  if (r.code !== 0) throw new Error(`pipeline failed: ${r.code}`);
  return n;
}

// The same line built by a shell, read the same way.
async function shLineBytes(program, args) {
  const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;
  return onreadBytes('sh', ['-c', `${[program, ...args].map(quote).join(' ')} | cat`], 64 * 1024);
}

// Moves a child's stdout to a file without JS seeing the bytes; returns the file's size.
async function pipeToBytes(program, args, file, method) {
  const child = lib.spawn({ program, args, stdin: 'null', stdout: 'pipe', stderr: 'null' });
  const [moved, status] = await Promise.all([child.stdout.pipeTo(file, { method }), child.exited]);
  expectSuccess(program, status.code, status.signal);
  const size = statSync(file).size;
  if (size !== moved.bytes)
    throw new Error(`pipeTo reported ${moved.bytes} bytes, file has ${size}`);
  return size;
}

export default {
  name: 'core',
  label: '@core/process',

  async load() {
    if (!existsSync(fileURLToPath(DIST))) {
      throw new Error('dist/index.js not built (run `npm run build`)');
    }
    lib = await import(DIST.href);
    if (typeof lib.spawn !== 'function') throw new Error('dist/index.js exports no spawn()');
  },

  /**
   * The loaded library module, for scenarios that use more than this interface (threads,
   * scheduling). `names` are exports the caller needs: a missing one throws, naming it.
   */
  api(...names) {
    if (!lib) throw new Error('@core/process is not loaded');
    const missing = names.filter((n) => typeof lib[n] !== 'function');
    if (missing.length) throw new Error(`dist/index.js exports no ${missing.join(', ')}()`);
    return lib;
  },

  async spawnTrue(program) {
    const child = lib.spawn({ program, args: [], stdin: 'null', stdout: 'null', stderr: 'null' });
    const status = await child.exited;
    expectSuccess(program, status.code, status.signal);
  },

  spawnSleep(program, args, { stdio }) {
    const child = lib.spawn({ program, args, stdin: stdio, stdout: stdio, stderr: stdio });
    return {
      child,
      pid: child.pid,
      ready: Promise.resolve(),
      exited: child.exited.then(exitInfo),
      kill: (sig) => child.kill(sig),
      streams: () => [child.stdin, child.stdout, child.stderr],
      destroyStreams: () => destroyAll(child.stdin, child.stdout, child.stderr),
    };
  },

  /** Extra stdout transports scenario 4 measures besides the default 'pipe'. */
  pipeTransports: ['socketpair'],

  async pipeBytes(program, args, { transport = 'pipe' } = {}) {
    const child = lib.spawn({ program, args, stdin: 'null', stdout: transport, stderr: 'null' });
    const [bytes, status] = await Promise.all([drainCount(child.stdout), child.exited]);
    expectSuccess(program, status.code, status.signal);
    return bytes;
  },

  /**
   * Other ways this library reads a child's output, each a row of scenario 4: `run` gets the
   * writer (program, args) and resolves with the bytes it moved.
   */
  pipeVariants: {
    'onread-64k': {
      note: 'stdout: { onread } into one 64 KiB buffer',
      run: (program, args) => onreadBytes(program, args, 64 * 1024),
    },
    'onread-1m': {
      note: 'stdout: { onread } into one 1 MiB buffer',
      run: (program, args) => onreadBytes(program, args, 1024 * 1024),
    },
    'pipeTo-file': {
      note: "stdout.pipeTo(file), method 'auto' (read/write off the JS thread)",
      run: (program, args, { outFile }) => pipeToBytes(program, args, outFile, 'auto'),
    },
    'pipeline-cat': {
      note: 'pipeline([writer, cat]), last stdout { onread } 64 KiB',
      run: (program, args) => pipelineBytes(program, args),
    },
    'sh-c-cat': {
      note: "the same line as sh -c 'writer | cat', stdout { onread } 64 KiB",
      run: (program, args) => shLineBytes(program, args),
    },
    'pipeTo-splice': {
      note: "stdout.pipeTo(file), method 'splice'",
      run: (program, args, { outFile }) => pipeToBytes(program, args, outFile, 'splice'),
    },
  },

  /** The library's own timed wait: rejects (ProcessError, kind 'TimedOut') after `ms`. */
  waitTimeout(handle, ms) {
    return handle.child.wait({ timeout: ms });
  },

  isTimeoutError(err) {
    return err?.kind === 'TimedOut';
  },
};
