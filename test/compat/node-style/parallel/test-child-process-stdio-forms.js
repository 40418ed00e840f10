'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');
const fs = require('fs');

// 'ignore' gives /dev/null; stdin/stdout/stderr are null for non-pipes.
const a = spawn('sleep', ['3'], { stdio: 'ignore' });
assert.strictEqual(a.stdin, null);
assert.strictEqual(a.stdout, null);
assert.strictEqual(a.stderr, null);
assert.strictEqual(fs.readlinkSync(`/proc/${a.pid}/fd/1`), '/dev/null');
a.kill();
a.on(
  'exit',
  common.mustCall((code, signal) => assert.strictEqual(signal, 'SIGTERM')),
);

// 'inherit' shares our fd 2.
const b = spawn('sleep', ['3'], { stdio: ['ignore', 'ignore', 'inherit'] });
assert.strictEqual(fs.readlinkSync(`/proc/${b.pid}/fd/2`), fs.readlinkSync('/proc/self/fd/2'));
b.kill('SIGKILL');
b.on('exit', common.mustCall());

// Null and undefined mean 'pipe' for 0..2.
const c = spawn('cat', [], { stdio: [null, undefined, 'ignore'] });
assert.ok(c.stdin);
assert.ok(c.stdout);
let out = '';
c.stdout.on('data', (d) => {
  out += d;
});
c.stdin.end('piped');
c.on(
  'close',
  common.mustCall(() => assert.strictEqual(out, 'piped')),
);
