'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');

const ac = new AbortController();
const child = spawn('sleep', ['10'], { signal: ac.signal });
child.on(
  'error',
  common.mustCall((err) => {
    assert.strictEqual(err.name, 'AbortError');
    assert.strictEqual(err.code, 'ABORT_ERR');
  }),
);
child.on(
  'exit',
  common.mustCall((code, signal) => assert.strictEqual(signal, 'SIGTERM')),
);
setTimeout(() => ac.abort(), 20);
