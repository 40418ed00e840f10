'use strict';
require('../common');
const assert = require('assert');
const { spawn, execFile, fork, spawnSync } = require('child_process');

const type = { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' };
const value = { code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError' };
assert.throws(() => spawn(), type);
assert.throws(() => spawn(''), value);
assert.throws(() => spawn('x', 'not-array-or-object'), type);
assert.throws(() => spawn('x', [], 42), type);
assert.throws(() => spawn('x', [], { cwd: 42 }), type);
assert.throws(() => spawn('x', [], { argv0: [] }), type);
assert.throws(() => spawn('x', [], { detached: 'yes' }), type);
assert.throws(() => spawn('x', [], { uid: 'root' }), type);
assert.throws(() => spawn('x', [], { gid: 3.5 }), type);
assert.throws(() => spawn('x', [], { shell: 7 }), type);
assert.throws(() => spawn('x', [], { stdio: 'nope' }), value);
assert.throws(() => spawn('x', [], { stdio: [{}] }), value);
assert.throws(() => spawn('x', ['a\u0000b']), value);
assert.throws(() => spawn('x', [], { env: { K: 'v\u0000' } }), value);
assert.throws(() => spawn('x', [], { killSignal: 'SIGFOO' }), { code: 'ERR_UNKNOWN_SIGNAL' });
assert.throws(() => spawn('x', [], { timeout: -5 }), {
  code: 'ERR_OUT_OF_RANGE',
  name: 'RangeError',
});
assert.throws(() => spawn('x', [], { signal: {} }), type);
assert.throws(() => execFile('x', { maxBuffer: -1 }), { code: 'ERR_OUT_OF_RANGE' });
assert.throws(() => fork('x.js', { stdio: ['pipe', 'pipe', 'pipe'] }), {
  code: 'ERR_CHILD_PROCESS_IPC_REQUIRED',
});
assert.throws(() => spawnSync('x', { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }), {
  code: 'ERR_IPC_SYNC_FORK',
});
