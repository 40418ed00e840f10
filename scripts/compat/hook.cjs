// Preloaded (--require) into each Node-style test file by scripts/compat.js: every
// require('child_process') / require('node:child_process') from the test gets
// @core/process/child_process instead, and `require('../common')` gets the runner's common
// when the test tree has none of its own. The ESM side is register.mjs.
'use strict';
const Module = require('node:module');
const fs = require('node:fs');
const path = require('node:path');

const target = process.env.CORE_COMPAT_TARGET;
const common = path.join(__dirname, 'common');
const originalLoad = Module._load;
const originalResolve = Module._resolveFilename;

if (target) {
  // _load, not _resolveFilename: 'node:' requests skip resolution and load the builtin.
  Module._load = function load(request, parent, isMain) {
    if (request === 'child_process' || request === 'node:child_process') {
      return originalLoad.call(this, target, parent, isMain);
    }
    return originalLoad.call(this, request, parent, isMain);
  };
}

Module._resolveFilename = function resolve(request, parent, ...rest) {
  const m = /^\.\.\/common(\/(?:index(?:\.js)?|fixtures(?:\.js)?))?$/.exec(request);
  if (m && parent?.filename) {
    const own = path.resolve(path.dirname(parent.filename), request);
    const exists = ['', '.js', '/index.js'].some((ext) => fs.existsSync(own + ext));
    if (!exists) {
      const file = m[1]?.startsWith('/fixtures') ? 'fixtures.js' : 'index.js';
      return path.join(common, file);
    }
  }
  return originalResolve.call(this, request, parent, ...rest);
};
