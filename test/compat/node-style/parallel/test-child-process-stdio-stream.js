'use strict';
// Another child's stdout (or a socket, or an fs stream with an fd) is accepted as stdio:
// the second child reads the first child's pipe directly.
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

const first = spawn('sh', ['-c', 'echo hello; echo world']);
const second = spawn('tr', ['a-z', 'A-Z'], { stdio: [first.stdout, 'pipe', 'pipe'] });
const third = spawn('cat', [], { stdio: [second.stdout, 'pipe', 'pipe'] });
let out = '';
third.stdout.setEncoding('utf8');
third.stdout.on('data', (d) => {
  out += d;
});
third.on(
  'close',
  common.mustCall((code) => {
    assert.strictEqual(code, 0);
    assert.strictEqual(out, 'HELLO\nWORLD\n');
    // The parent stopped reading the streams it handed over.
    assert.strictEqual(first.stdout.readableFlowing, false);
  }),
);
