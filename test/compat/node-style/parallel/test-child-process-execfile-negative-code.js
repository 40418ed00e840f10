'use strict';
// A negative code on 'close' (libuv's -errno) reaches the callback as its errno name.
const common = require('../common');
const assert = require('assert');
const { getSystemErrorName } = require('util');
const { execFile } = require('child_process');

const child = execFile(
  'sleep',
  ['5'],
  common.mustCall((err, stdout, stderr) => {
    assert.strictEqual(err.toString().trim(), 'Error: Command failed: sleep 5');
    assert.strictEqual(err.code, getSystemErrorName(-1));
    assert.strictEqual(err.killed, true);
    assert.strictEqual(err.signal, null);
    assert.strictEqual(stdout, '');
    assert.strictEqual(stderr, '');
  }),
);
child.kill();
child.emit('close', -1, null);
