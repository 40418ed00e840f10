import assert from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import cp from 'child_process';

// Node's own ESM tests import ../common/index.mjs; the runner provides the CJS one.
createRequire(import.meta.url)('../common');

// Both specifiers, named and default imports.
assert.strictEqual(typeof cp.spawn, 'function');
assert.strictEqual(execFileSync('echo', ['esm'], { encoding: 'utf8' }), 'esm\n');
const child = spawn('true');
const [code] = await new Promise((resolve) => child.on('exit', (...a) => resolve(a)));
assert.strictEqual(code, 0);
