'use strict';
require('../common');
const assert = require('assert');
const { spawnSync } = require('child_process');

const slow = spawnSync('sleep', ['10'], { timeout: 80 });
assert.strictEqual(slow.error.code, 'ETIMEDOUT');
assert.strictEqual(slow.error.errno, -110);
assert.strictEqual(slow.signal, 'SIGTERM');
assert.strictEqual(slow.status, null);

const chatty = spawnSync('sh', ['-c', 'yes | head -c 500000; sleep 10'], { maxBuffer: 64 });
assert.strictEqual(chatty.error.code, 'ENOBUFS');
assert.strictEqual(chatty.signal, 'SIGTERM');

const custom = spawnSync('sleep', ['10'], { timeout: 50, killSignal: 'SIGKILL' });
assert.strictEqual(custom.signal, 'SIGKILL');
