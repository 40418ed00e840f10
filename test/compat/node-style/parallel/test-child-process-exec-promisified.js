'use strict';
const common = require('../common');
const assert = require('assert');
const { promisify } = require('util');
const { exec, execFile } = require('child_process');

const execP = promisify(exec);
const execFileP = promisify(execFile);

const p = execP('echo one');
assert.ok(p.child);
p.then(
  common.mustCall(({ stdout, stderr }) => {
    assert.strictEqual(stdout, 'one\n');
    assert.strictEqual(stderr, '');
  }),
);

execFileP('sh', ['-c', 'echo out; echo err >&2; exit 3']).catch(
  common.mustCall((err) => {
    assert.strictEqual(err.code, 3);
    assert.strictEqual(err.stdout, 'out\n');
    assert.strictEqual(err.stderr, 'err\n');
  }),
);
