'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

if (!common.isRoot) common.skip('switching to uid/gid nobody needs root');

const child = spawn('sh', ['-c', 'id -u; id -g'], { uid: 65534, gid: 65534 });
let out = '';
child.stdout.on('data', (d) => {
  out += d;
});
child.on(
  'close',
  common.mustCall((code) => {
    assert.strictEqual(code, 0);
    assert.strictEqual(out, '65534\n65534\n');
  }),
);
