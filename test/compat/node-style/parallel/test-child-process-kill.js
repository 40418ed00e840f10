'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

const child = spawn('sleep', ['10']);
assert.strictEqual(child.killed, false);
assert.throws(() => child.kill('SIGWHAT'), { code: 'ERR_UNKNOWN_SIGNAL' });
assert.strictEqual(child.kill('SIGUSR1'), true);
assert.strictEqual(child.killed, true);
child.on(
  'exit',
  common.mustCall((code, signal) => {
    assert.strictEqual(code, null);
    assert.strictEqual(signal, 'SIGUSR1');
    assert.strictEqual(child.signalCode, 'SIGUSR1');
    // The child is gone: nothing to signal.
    assert.strictEqual(child.kill(), false);
  }),
);
