'use strict';
const common = require('../common');
const assert = require('assert');
const { exec, execFile } = require('child_process');

exec(
  'echo hello; echo oops >&2',
  common.mustSucceed((stdout, stderr) => {
    assert.strictEqual(stdout, 'hello\n');
    assert.strictEqual(stderr, 'oops\n');
  }),
);

execFile(
  'sh',
  ['-c', 'echo partial; echo why >&2; exit 9'],
  common.mustCall((err, stdout, stderr) => {
    assert.ok(err instanceof Error);
    assert.strictEqual(err.code, 9);
    assert.strictEqual(err.killed, false);
    assert.strictEqual(err.signal, null);
    assert.strictEqual(err.cmd, 'sh -c echo partial; echo why >&2; exit 9');
    assert.strictEqual(
      err.message,
      'Command failed: sh -c echo partial; echo why >&2; exit 9\nwhy\n',
    );
    assert.strictEqual(stdout, 'partial\n');
    assert.strictEqual(stderr, 'why\n');
  }),
);

execFile(
  'printf',
  ['\\001\\002'],
  { encoding: 'buffer' },
  common.mustSucceed((stdout) => {
    assert.deepStrictEqual(stdout, Buffer.from([1, 2]));
  }),
);
