'use strict';
const common = require('../common');
const assert = require('assert');
const { exec } = require('child_process');

exec(
  'sleep 10',
  { timeout: 50 },
  common.mustCall((err) => {
    assert.strictEqual(err.killed, true);
    assert.strictEqual(err.signal, 'SIGTERM');
    assert.strictEqual(err.code, null);
    assert.strictEqual(err.cmd, 'sleep 10');
  }),
);

exec(
  'sleep 10',
  { timeout: 50, killSignal: 'SIGINT' },
  common.mustCall((err) => {
    assert.strictEqual(err.signal, 'SIGINT');
  }),
);
