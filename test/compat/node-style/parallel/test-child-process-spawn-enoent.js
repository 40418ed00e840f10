'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

const file = '/definitely/not/here/prog';
const child = spawn(file, ['one', 'two']);
assert.strictEqual(child.pid, undefined);
child.on('spawn', common.mustNotCall());
child.on('exit', common.mustNotCall());
child.on(
  'error',
  common.mustCall((err) => {
    assert.strictEqual(err.code, 'ENOENT');
    assert.strictEqual(err.errno, -2);
    assert.strictEqual(err.syscall, `spawn ${file}`);
    assert.strictEqual(err.path, file);
    assert.deepStrictEqual(err.spawnargs, ['one', 'two']);
    assert.strictEqual(err.message, `spawn ${file} ENOENT`);
  }),
);
child.on(
  'close',
  common.mustCall((code, signal) => {
    assert.strictEqual(code, -2);
    assert.strictEqual(signal, null);
  }),
);
