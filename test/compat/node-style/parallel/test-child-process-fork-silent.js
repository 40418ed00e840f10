'use strict';
const common = require('../common');
const assert = require('assert');
const path = require('path');
const fs = require('fs');
const os = require('os');
const { fork } = require('child_process');

const file = path.join(os.tmpdir(), `fork-silent-${process.pid}.js`);
fs.writeFileSync(file, "console.log('from child', process.argv.slice(2).join(','));\n");
const child = fork(file, ['a', 'b'], { silent: true, execArgv: [] });
let out = '';
child.stdout.on('data', (d) => {
  out += d;
});
child.on(
  'close',
  common.mustCall((code) => {
    fs.unlinkSync(file);
    assert.strictEqual(code, 0);
    assert.strictEqual(out, 'from child a,b\n');
  }),
);
