'use strict';
const common = require('../common');
const fixtures = require('../common/fixtures');
const assert = require('assert');
const { fork } = require('child_process');

const child = fork(fixtures.path('child-echo.js'), [], { execArgv: [] });
child.disconnect();
assert.strictEqual(child.connected, false);
child.on('disconnect', common.mustCall());
child.send(
  'late',
  common.mustCall((err) => {
    assert.strictEqual(err.code, 'ERR_IPC_CHANNEL_CLOSED');
  }),
);
child.on(
  'error',
  common.mustCall((err) => {
    assert.strictEqual(err.code, 'ERR_IPC_DISCONNECTED');
  }),
);
child.disconnect();
child.on(
  'exit',
  common.mustCall((code) => assert.strictEqual(code, 0)),
);
