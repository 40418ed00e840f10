'use strict';
// child._channel is child.channel (DEP0129's alias).
const common = require('../common');
const assert = require('assert');
const { fork } = require('child_process');
const fixtures = require('../common/fixtures');

const child = fork(fixtures.path('child-echo.js'), [], { execArgv: [] });
assert.ok(child.channel);
assert.strictEqual(child._channel, child.channel);
child.disconnect();
child.on('exit', common.mustCall());
