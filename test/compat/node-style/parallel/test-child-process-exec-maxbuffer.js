'use strict';
const common = require('../common');
const assert = require('assert');
const { exec } = require('child_process');

exec(
  'yes | head -c 200000',
  { maxBuffer: 1024 },
  common.mustCall((err, stdout) => {
    assert.strictEqual(err.code, 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
    assert.strictEqual(err.message, 'stdout maxBuffer length exceeded');
    assert.ok(err instanceof RangeError);
    assert.strictEqual(stdout.length, 1024);
  }),
);

exec(
  'yes | head -c 2000 >&2',
  { maxBuffer: 100 },
  common.mustCall((err, stdout, stderr) => {
    assert.strictEqual(err.message, 'stderr maxBuffer length exceeded');
    assert.strictEqual(stderr.length, 100);
  }),
);

exec(
  'head -c 5000 /dev/zero',
  { maxBuffer: Infinity, encoding: 'buffer' },
  common.mustSucceed((stdout) => {
    assert.strictEqual(stdout.length, 5000);
  }),
);
