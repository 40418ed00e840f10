'use strict';
require('../common');
const assert = require('assert');
const { execSync, execFileSync } = require('child_process');

assert.strictEqual(execSync('echo sync').toString(), 'sync\n');
assert.strictEqual(execFileSync('echo', ['file', 'sync'], { encoding: 'utf8' }), 'file sync\n');
assert.strictEqual(execSync('cat', { input: 'fed' }).toString(), 'fed');

assert.throws(
  () => execSync('echo bad >&2; exit 5', { stdio: 'pipe' }),
  (err) => {
    assert.strictEqual(err.message, 'Command failed: echo bad >&2; exit 5\nbad\n');
    assert.strictEqual(err.status, 5);
    assert.strictEqual(err.signal, null);
    assert.deepStrictEqual(err.output, [null, Buffer.from(''), Buffer.from('bad\n')]);
    return true;
  },
);

assert.throws(() => execFileSync('/no/such/prog/yy'), { code: 'ENOENT' });
assert.throws(
  () => execFileSync('sleep', ['5'], { timeout: 50 }),
  (err) => {
    assert.strictEqual(err.code, 'ETIMEDOUT');
    assert.strictEqual(err.signal, 'SIGTERM');
    return true;
  },
);
