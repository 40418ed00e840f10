'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

const child = spawn('sleep', ['10'], { timeout: 50, killSignal: 'SIGHUP' });
child.on(
  'exit',
  common.mustCall((code, signal) => {
    assert.strictEqual(code, null);
    assert.strictEqual(signal, 'SIGHUP');
    assert.strictEqual(child.killed, true);
  }),
);

// A numeric killSignal is accepted too.
const b = spawn('sleep', ['10'], { timeout: 50, killSignal: 9 });
b.on(
  'exit',
  common.mustCall((code, signal) => assert.strictEqual(signal, 'SIGKILL')),
);
