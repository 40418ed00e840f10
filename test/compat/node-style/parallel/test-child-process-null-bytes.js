'use strict';
// A NUL byte anywhere Node checks for one is a synchronous ERR_INVALID_ARG_VALUE TypeError,
// and the promisified exec/execFile throw bad options synchronously too.
require('../common');
const assert = require('assert');
const util = require('util');
const cp = require('child_process');

const nul = { code: 'ERR_INVALID_ARG_VALUE', name: 'TypeError' };
assert.throws(() => cp.spawn('a\u0000'), nul);
assert.throws(() => cp.spawn('echo', ['a\u0000']), nul);
assert.throws(() => cp.spawn('echo', [], { env: { 'K\u0000': 'v' } }), nul);
assert.throws(() => cp.spawn('echo', [], { env: { K: 'v\u0000' } }), nul);
assert.throws(() => cp.spawn('echo', [], { cwd: '/tmp\u0000' }), nul);
assert.throws(() => cp.spawn('echo', [], { shell: '/bin/sh\u0000' }), nul);
assert.throws(() => cp.spawn('echo', [], { argv0: 'e\u0000' }), nul);
assert.throws(() => cp.spawnSync('echo', ['a\u0000']), nul);
assert.throws(() => cp.execSync('echo \u0000'), nul);
assert.throws(() => cp.exec('echo \u0000', () => {}), nul);
assert.throws(() => cp.execFileSync('echo', ['\u0000']), nul);
assert.throws(() => cp.fork('a\u0000'), nul);
assert.throws(() => cp.fork('x.js', { execPath: 'n\u0000' }), nul);
assert.throws(() => cp.fork('x.js', { execArgv: ['\u0000'] }), nul);

const type = { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' };
assert.throws(() => util.promisify(cp.exec)('echo', { signal: {} }), type);
assert.throws(() => util.promisify(cp.execFile)('echo', [], { signal: 'x' }), type);
