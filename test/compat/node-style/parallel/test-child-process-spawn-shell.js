'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

// With shell: true the command and its args are joined by spaces and given to /bin/sh -c.
const a = spawn('echo', ['$((6*7))', '"quoted  twice"'], { shell: true });
assert.strictEqual(a.spawnfile, '/bin/sh');
assert.deepStrictEqual(a.spawnargs, ['/bin/sh', '-c', 'echo $((6*7)) "quoted  twice"']);
let out = '';
a.stdout.on('data', (d) => {
  out += d;
});
a.on(
  'close',
  common.mustCall((code) => {
    assert.strictEqual(code, 0);
    assert.strictEqual(out, '42 quoted  twice\n');
  }),
);

// A string names the shell.
const b = spawn('echo $0', { shell: '/bin/sh' });
let outB = '';
b.stdout.on('data', (d) => {
  outB += d;
});
b.on(
  'close',
  common.mustCall(() => assert.strictEqual(outB, '/bin/sh\n')),
);
