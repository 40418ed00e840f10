// scripts/compat.js (npm run compat): runs Node-style files with child_process redirected to
// ours, provides ../common, and reports "N passed, N failed, N skipped" with failure names.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { childEnv, compiledLib } from '../subprocess.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

let lib = '';
beforeAll(async () => {
  lib = path.dirname(fileURLToPath(await compiledLib()));
});

function runner(dir: string, ...extra: string[]) {
  return spawnSync(
    process.execPath,
    [path.join(ROOT, 'scripts/compat.js'), dir, '--lib', lib, '--timeout', '20000', ...extra],
    { encoding: 'utf8', env: childEnv() },
  );
}

function tree(): string {
  const root = tempDir();
  const dir = path.join(root, 'parallel');
  mkdirSync(dir);
  writeFileSync(path.join(root, 'package.json'), '{ "type": "commonjs" }');
  // Passes only when the redirect happened: killTree is our extra, absent from Node's class.
  writeFileSync(
    path.join(dir, 'test-redirected.js'),
    `'use strict';
const common = require('../common');
const assert = require('assert');
const cp = require('child_process');
const viaPrefix = require('node:child_process');
assert.strictEqual(typeof cp.ChildProcess.prototype.killTree, 'function');
assert.strictEqual(viaPrefix, cp);
cp.spawn('true').on('exit', common.mustCall((code) => assert.strictEqual(code, 0)));
`,
  );
  writeFileSync(
    path.join(dir, 'test-fails.js'),
    `'use strict';
const common = require('../common');
require('child_process').spawn('true').on('exit', common.mustCall(() => {}, 2));
`,
  );
  writeFileSync(
    path.join(dir, 'test-skips.js'),
    `'use strict';
require('../common').skip('not on this machine');
`,
  );
  writeFileSync(
    path.join(dir, 'test-esm.mjs'),
    `import { spawnSync, ChildProcess } from 'node:child_process';
import assert from 'node:assert';
assert.strictEqual(typeof ChildProcess.prototype.killTree, 'function');
assert.strictEqual(spawnSync('true').status, 0);
`,
  );
  return dir;
}

describe('npm run compat (scripts/compat.js)', () => {
  it('redirects CJS and ESM, counts pass/fail/skip and names the failure', () => {
    const r = runner(tree());
    expect(r.stdout).toContain(
      '2 passed, 1 failed, 1 skipped (against @core/process/child_process)',
    );
    expect(r.stdout).toContain('failures: test-fails.js');
    expect(r.stdout).toContain(
      'Mismatched <anonymous> function calls. Expected exactly 2, actual 1.',
    );
    expect(r.stdout).toContain('skip test-skips.js (not on this machine)');
    expect(r.status).toBe(1);
  });

  it('--against node runs the same files on node:child_process (the redirect check fails)', () => {
    const r = runner(tree(), '--against', 'node');
    expect(r.stdout).toContain('0 passed, 3 failed, 1 skipped (against node:child_process)');
  });

  it('the bundled Node-style tests all pass on the facade, handle passing included', () => {
    const r = runner(path.join(ROOT, 'test/compat/node-style/parallel'));
    expect(r.stdout).toMatch(/\d+ passed, 0 failed, \d+ skipped/);
    expect(r.stdout).toContain('ok   test-child-process-fork-send-handle.js');
    // Skipped only: the uid/gid file where it cannot change ids, and the files lines.json says
    // the running Node line changed (each with its reason).
    const changed = JSON.parse(
      readFileSync(path.join(ROOT, 'test/compat/node-style/lines.json'), 'utf8'),
    ).files as Record<string, { changedIn: number; why: string }>;
    const major = Number(process.versions.node.split('.')[0]);
    for (const [file, line] of Object.entries(changed)) {
      if (major >= line.changedIn)
        expect(r.stdout).toContain(`skip ${file} (Node ${major}: ${line.why})`);
      else expect(r.stdout).toContain(`ok   ${file}`);
    }
    const skipped = r.stdout.split('\n').filter((l) => l.startsWith('skip '));
    for (const l of skipped) expect(l).toMatch(/test-child-process-uid-gid\.js|\(Node \d+: /);
    expect(r.status).toBe(0);
  }, 120_000);
});
