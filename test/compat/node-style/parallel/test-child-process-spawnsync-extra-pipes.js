'use strict';
// spawnSync collects every 'pipe' entry of stdio, fd 3 and up included.
require('../common');
const assert = require('assert');
const { spawnSync } = require('child_process');

const r = spawnSync('sh', ['-c', 'echo three >&3; echo five >&5; echo out'], {
  stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'ignore', 'pipe'],
  encoding: 'utf8',
});
assert.deepStrictEqual(r.output, [null, 'out\n', '', 'three\n', null, 'five\n']);
