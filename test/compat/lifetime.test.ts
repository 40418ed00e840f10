// ref/unref as seen from outside: how long a parent process lives after spawning a child.
// Each case runs a real Node parent against node:child_process and against ours.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { childEnv, compiledLib } from '../subprocess.js';

let facadeUrl = '';
beforeAll(async () => {
  const lib = path.dirname(fileURLToPath(await compiledLib()));
  facadeUrl = pathToFileURL(path.join(lib, 'child_process/index.js')).href;
});

/** Runs a parent script (an ES module importing `cp`) and returns how long it lived, in ms. */
function parentLifetime(impl: string, body: string): number {
  const from = impl === 'node' ? 'node:child_process' : facadeUrl;
  const script = `import * as cp from ${JSON.stringify(from)};\n${body}`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: childEnv(),
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return Date.now() - t0;
}

describe.each(['node', 'core'])('%s: ref and unref', (impl) => {
  it('unref() with stdio ignored lets the parent exit while the child sleeps', () => {
    const ms = parentLifetime(
      impl,
      "const c = cp.spawn('sleep', ['6'], { stdio: 'ignore' }); c.unref(); process.on('exit', () => process.kill(c.pid));",
    );
    expect(ms).toBeLessThan(5000);
  });

  it('unref() with piped stdio still waits: the open pipes hold the loop, as in Node', () => {
    const ms = parentLifetime(impl, "cp.spawn('sleep', ['2']).unref();");
    expect(ms).toBeGreaterThanOrEqual(1900);
  });

  it('a ref()d child keeps the parent alive until it exits', () => {
    const ms = parentLifetime(
      impl,
      "const c = cp.spawn('sleep', ['2'], { stdio: 'ignore' }); c.unref(); c.ref();",
    );
    expect(ms).toBeGreaterThanOrEqual(1900);
  });

  it('fork with an explicit execPath runs that binary', () => {
    const ms = parentLifetime(
      impl,
      `const c = cp.fork('-', [], { execPath: ${JSON.stringify(process.execPath)}, execArgv: ['-e', 'process.send(process.execPath)'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
c.on('message', (m) => { if (m !== ${JSON.stringify(process.execPath)}) process.exit(3); c.disconnect(); });`,
    );
    expect(ms).toBeLessThan(20_000);
  });
});
