// A client generated from the served OpenAPI document, the way a user would make one: at test
// time openapi-typescript turns /openapi.json into types, a small program using openapi-fetch
// (fixtures/client-steps.mts) is type-checked against them with the project's tsc in strict
// mode, compiled, and run against a real server: it starts `sleep`, reads it, waits, kills it
// and runs a command to completion through POST /processes/run. What it reports is checked
// against the kernel (/proc), and wrong uses of the same client (fixtures/client-misuse.mts)
// must be refused by tsc, so the types are the document's and not `unknown` or `any`.
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/process/run.js';
import { eventually, programOf, tempDir } from '../helpers.js';
import { alive, BASE, cmdline, useApi } from './helpers.js';

const start = useApi();
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// What the compiled fixtures/client-steps.mts exports (compiled in the test against the
// generated types, so the project's own type check cannot see it).
type Steps = (
  baseUrl: string,
  token: string,
) => {
  start(seconds: string): Promise<string>;
  get(id: string): Promise<{ pid: number | null; status: string; command: string }>;
  listed(id: string): Promise<boolean>;
  waitBriefly(id: string): Promise<{ status: number; kind: string }>;
  kill(id: string): Promise<boolean>;
  wait(id: string): Promise<{ status: string; signal: string | null; userCpuMs: number }>;
  run(script: string): Promise<unknown>;
};

/** Generates api.mts from the document, beside both fixtures; tsc over them; its output. */
async function generateAndCheck(
  doc: unknown,
): Promise<{ dir: string; code: number | null; out: string }> {
  const dir = tempDir('core-process-client-');
  dirs.push(dir);
  const ast = await openapiTS(doc as Parameters<typeof openapiTS>[0]);
  writeFileSync(path.join(dir, 'api.mts'), astToString(ast));
  for (const f of ['client-steps.mts', 'client-misuse.mts']) {
    copyFileSync(path.join(here, 'fixtures', f), path.join(dir, f));
  }
  // openapi-fetch resolved from the temp dir as a user's project would: its node_modules.
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(
    path.join(root, 'node_modules/openapi-fetch'),
    path.join(dir, 'node_modules/openapi-fetch'),
  );
  const tsc = await run(
    process.execPath,
    [
      path.join(root, 'node_modules/typescript/bin/tsc'),
      '--strict',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--lib',
      'es2023,dom',
      '--skipLibCheck',
      '--outDir',
      path.join(dir, 'out'),
      '--rootDir',
      dir,
      path.join(dir, 'client-steps.mts'),
      path.join(dir, 'client-misuse.mts'),
    ],
    { cwd: dir, reject: false, timeout: 120_000 },
  );
  return { dir, code: tsc.status.code, out: tsc.stdout + tsc.stderr };
}

describe('a client generated from /openapi.json (openapi-typescript + openapi-fetch)', () => {
  it('good: type-checks strictly, then starts, reads, waits for, kills and runs processes over HTTP', async () => {
    const api = await start();
    const doc = (await api.call('GET', `${BASE}/openapi.json`)).body;
    const { dir, code, out } = await generateAndCheck(doc);

    // The program that uses the client is clean; only the deliberate misuses are refused,
    // each on its own line, for the reason given.
    const errors = out.split('\n').filter((l) => /error TS\d+/.test(l));
    expect(
      errors.filter((l) => !l.includes('client-misuse.mts')),
      out,
    ).toEqual([]);
    expect(code).not.toBe(0);
    const misuse = readFileSync(path.join(dir, 'client-misuse.mts'), 'utf8').split('\n');
    const lineOf = (tag: string) => misuse.findIndex((l) => l.includes(tag)) + 1;
    const refused = (line: number) => errors.some((l) => l.includes(`client-misuse.mts(${line},`));
    expect(refused(lineOf('MISUSE-1')), out).toBe(true);
    expect(refused(lineOf('MISUSE-2') + 1), out).toBe(true);
    expect(refused(lineOf('MISUSE-3')), out).toBe(true);

    const { steps } = (await import(
      pathToFileURL(path.join(dir, 'out/client-steps.mjs')).href
    )) as {
      steps: Steps;
    };
    const client = steps(api.api.url, api.api.token);

    const id = await client.start('30');
    const got = await client.get(id);
    expect(got).toMatchObject({ status: 'running', command: 'sleep' });
    const pid = got.pid as number;
    expect(cmdline(programOf(pid))).toEqual(['sleep', '30']);
    expect(await client.listed(id)).toBe(true);

    // A wait that times out is a typed error answer; the child lives on.
    expect(await client.waitBriefly(id)).toEqual({ status: 408, kind: 'TimedOut' });
    expect(alive(pid)).toBe(true);

    expect(await client.kill(id)).toBe(true);
    const waited = await client.wait(id);
    expect(waited).toMatchObject({ status: 'killed', signal: 'SIGTERM' });
    expect(waited.userCpuMs).toBeGreaterThanOrEqual(0);
    expect(await eventually(() => !alive(pid))).toBe(true);

    expect(await client.run('echo hello; echo there')).toEqual({ output: 'hello\nthere\n' });
    expect(await client.run('echo oops >&2; exit 3')).toEqual({
      status: 422,
      exitCode: 3,
      output: 'oops\n',
    });
  }, 180_000);
});
