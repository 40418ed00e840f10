'use strict';
require('../common');
const assert = require('assert');
const { spawnSync } = require('child_process');

const r = spawnSync('sh', ['-c', 'cat; echo to-err >&2; exit 6'], { input: 'given' });
assert.strictEqual(r.status, 6);
assert.strictEqual(r.signal, null);
assert.ok(r.pid > 0);
assert.deepStrictEqual(r.output, [null, Buffer.from('given'), Buffer.from('to-err\n')]);
assert.strictEqual(r.stdout.toString(), 'given');
assert.strictEqual(r.error, undefined);

const s = spawnSync('echo', ['str'], { encoding: 'utf8' });
assert.strictEqual(s.stdout, 'str\n');
assert.strictEqual(s.stderr, '');

const missing = spawnSync('/no/such/prog/zz', ['arg']);
assert.strictEqual(missing.error.code, 'ENOENT');
assert.strictEqual(missing.error.syscall, 'spawnSync /no/such/prog/zz');
assert.deepStrictEqual(missing.error.spawnargs, ['arg']);
assert.strictEqual(missing.pid, 0);
assert.strictEqual(missing.output, null);
