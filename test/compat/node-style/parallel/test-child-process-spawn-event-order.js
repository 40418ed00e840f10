'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

// 'spawn' comes first, 'exit' before 'close', and the output is complete by 'close'.
const order = [];
const child = spawn('sh', ['-c', 'printf abc; exit 2']);
let out = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (d) => {
  out += d;
});
child.on(
  'spawn',
  common.mustCall(() => order.push('spawn')),
);
child.on(
  'exit',
  common.mustCall((code, signal) => {
    order.push('exit');
    assert.strictEqual(code, 2);
    assert.strictEqual(signal, null);
  }),
);
child.on(
  'close',
  common.mustCall((code, signal) => {
    order.push('close');
    assert.deepStrictEqual(order, ['spawn', 'exit', 'close']);
    assert.strictEqual(code, 2);
    assert.strictEqual(signal, null);
    assert.strictEqual(out, 'abc');
    assert.strictEqual(child.exitCode, 2);
  }),
);
child.on('error', common.mustNotCall());
