'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

const child = spawn('sh', ['-c', 'echo "$0"'], { argv0: 'my-zero' });
assert.strictEqual(child.spawnargs[0], 'my-zero');
assert.strictEqual(child.spawnfile, 'sh');
let out = '';
child.stdout.on('data', (d) => {
  out += d;
});
child.on(
  'close',
  common.mustCall(() => {
    assert.strictEqual(out, 'my-zero\n');
  }),
);
