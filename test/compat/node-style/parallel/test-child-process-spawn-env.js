'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

const env = { HELLO: 'world', NUM: 42, DROPPED: undefined };
const child = spawn('/usr/bin/env', [], { env });
let out = '';
child.stdout.on('data', (d) => {
  out += d;
});
child.on(
  'close',
  common.mustCall(() => {
    assert.deepStrictEqual(out.trim().split('\n').sort(), ['HELLO=world', 'NUM=42']);
  }),
);

// Inherited keys of the env object count too, as Node reads them with for..in.
const proto = { FROM_PROTO: 'yes' };
const child2 = spawn('/usr/bin/env', [], { env: Object.create(proto) });
let out2 = '';
child2.stdout.on('data', (d) => {
  out2 += d;
});
child2.on(
  'close',
  common.mustCall(() => assert.strictEqual(out2, 'FROM_PROTO=yes\n')),
);
