// CommonJS users: require('@core/process') and require('@core/process/child_process') load on
// the Node line running this suite (CI runs it on 20, 22, 24 and 26), from a .cjs file and
// from a CommonJS project's own `node --test` run. Without a `require`/`default` condition in
// `exports` both fail with ERR_PACKAGE_PATH_NOT_EXPORTED; with top-level await anywhere on
// the load path, with ERR_REQUIRE_ASYNC_MODULE.
import cp from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { childEnv } from '../subprocess.js';
import { stageConsumer } from './stage.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function node(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    cp.execFile(
      process.execPath,
      args,
      { cwd, env, encoding: 'utf8', timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') reject(err);
        else resolve({ code: err ? (err.code as unknown as number) : 0, stdout, stderr });
      },
    );
  });
}

// Node 22.12.x printed an ExperimentalWarning for require(esm) from outside node_modules; from
// 22.13 (and on 20.19+) only --trace-require-module prints it. Any other line printing it is
// a change worth seeing.
const warns = /^v22\.12\./.test(process.version);

let cleanup = (): void => {};
afterEach(() => cleanup());

describe(`require() on Node ${process.version}`, () => {
  it('a .cjs file requires both entry points and runs a real child through each', async () => {
    const stage = stageConsumer(['require-entries.cjs']);
    cleanup = stage.cleanup;
    const r = await node([path.join(stage.dir, 'require-entries.cjs')], stage.dir, childEnv());
    expect(r.stderr).toBe(
      warns ? expect.stringContaining('ExperimentalWarning: CommonJS module') : '',
    );
    expect(r.code).toBe(0);
    const seen = JSON.parse(r.stdout) as {
      version: string;
      run: { pid: number; stdout: string; code: number };
      spawnSync: { pid: number; stdout: string; status: number };
      sameModule: boolean;
      sameFacade: boolean;
      errorClass: boolean;
    };
    expect(seen.version).toBe(process.version);
    // The shells' own $$ and exit codes: the children really ran, as the pids reported.
    expect(seen.run).toEqual({ pid: seen.run.pid, stdout: `from run ${seen.run.pid}\n`, code: 3 });
    expect(seen.spawnSync).toEqual({
      pid: seen.spawnSync.pid,
      stdout: `${seen.spawnSync.pid}\n`,
      status: 4,
    });
    // require() and import() give one module instance, not a second copy beside the addon.
    expect([seen.sameModule, seen.sameFacade, seen.errorClass]).toEqual([true, true, true]);
  });

  it("a CommonJS project's own node --test suite passes, requiring the package", async () => {
    const stage = stageConsumer(['cjs-project']);
    cleanup = stage.cleanup;
    const project = path.join(stage.dir, 'cjs-project');
    const r = await node(
      ['--test', '--test-reporter=tap'],
      project,
      childEnv({ EXPECT_NODE_VERSION: process.version }),
    );
    const count = (what: string) =>
      Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(r.stdout)?.[1]);
    expect({ code: r.code, pass: count('pass'), fail: count('fail') }, r.stdout + r.stderr).toEqual(
      {
        code: 0,
        pass: 5,
        fail: 0,
      },
    );
  });
});
