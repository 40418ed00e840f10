'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

// Pipes beyond fd 2 are duplex: the child reads fd 3 and writes fd 4.
const child = spawn('sh', ['-c', 'read line <&3; echo "got $line" >&4'], {
  stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'pipe'],
});
assert.strictEqual(child.stdio.length, 5);
child.stdio[3].end('from-parent\n');
let out = '';
child.stdio[4].on('data', (d) => {
  out += d;
});
child.on(
  'close',
  common.mustCall((code) => {
    assert.strictEqual(code, 0);
    assert.strictEqual(out, 'got from-parent\n');
  }),
);
