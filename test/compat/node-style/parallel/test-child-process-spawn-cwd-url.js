'use strict';
const common = require('../common');
const assert = require('assert');
const { spawn } = require('child_process');
const { pathToFileURL } = require('url');
const os = require('os');
const fs = require('fs');

const dir = fs.realpathSync(os.tmpdir());
// (Not a Buffer: Node 20's async spawn ignores a Buffer cwd; see the README table.)
for (const cwd of [dir, pathToFileURL(dir)]) {
  const child = spawn('pwd', [], { cwd });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.on(
    'close',
    common.mustCall((code) => {
      assert.strictEqual(code, 0);
      assert.strictEqual(out.trim(), dir);
    }),
  );
}

// A missing cwd is an 'error' event with ENOENT, not a throw.
spawn('pwd', [], { cwd: '/no/such/cwd/here' }).on(
  'error',
  common.mustCall((err) => {
    assert.strictEqual(err.code, 'ENOENT');
  }),
);
