// The runner's stand-in for Node's test/common: the helpers Node-style child_process tests
// use, written for this runner. Call-count checks run at exit and fail the process.
'use strict';
const assert = require('node:assert');
const path = require('node:path');

const checks = [];

process.on('exit', (code) => {
  if (code !== 0) return;
  const failed = checks.filter(
    (c) => c.expected !== c.actual && !(c.atLeast && c.actual >= c.expected),
  );
  for (const c of failed) {
    console.error(
      `Mismatched ${c.name} function calls. Expected ${c.atLeast ? 'at least ' : 'exactly '}${c.expected}, actual ${c.actual}.\n${c.stack}`,
    );
  }
  if (failed.length > 0) process.exitCode = 1;
});

function track(fn, expected, atLeast) {
  const check = {
    name: fn.name || '<anonymous>',
    expected,
    actual: 0,
    atLeast,
    stack: new Error().stack.split('\n').slice(2).join('\n'),
  };
  checks.push(check);
  return function tracked(...args) {
    check.actual++;
    return fn.apply(this, args);
  };
}

function mustCall(fn, exact = 1) {
  if (typeof fn === 'number') return track(() => {}, fn, false);
  return track(fn ?? (() => {}), exact, false);
}

function mustCallAtLeast(fn, minimum = 1) {
  if (typeof fn === 'number') return track(() => {}, fn, true);
  return track(fn ?? (() => {}), minimum, true);
}

function mustNotCall(msg) {
  return function mustNotCall(...args) {
    assert.fail(
      `${msg || 'function should not have been called'} (called with ${args.length} arguments)`,
    );
  };
}

function mustSucceed(fn, exact) {
  return mustCall(function succeeded(err, ...args) {
    assert.ifError(err);
    if (typeof fn === 'function') return fn.apply(this, args);
  }, exact);
}

/** A validator for assert.throws, or a mustCall'd callback when `exact` is given. */
function expectsError(validator, exact) {
  return mustCall((...args) => {
    if (args.length !== 1) assert.fail('expectsError takes exactly one argument');
    const error = args.pop();
    assert.throws(() => {
      throw error;
    }, validator);
    return true;
  }, exact);
}

function skip(msg) {
  process._rawDebug(`1..0 # Skipped: ${msg}`);
  process.exit(0);
}

function platformTimeout(ms) {
  return ms * (process.env.CI ? 3 : 1);
}

module.exports = {
  mustCall,
  mustCallAtLeast,
  mustNotCall,
  mustSucceed,
  expectsError,
  skip,
  platformTimeout,
  isWindows: process.platform === 'win32',
  isLinux: process.platform === 'linux',
  isMacOS: process.platform === 'darwin',
  isOSX: process.platform === 'darwin',
  isSunOS: process.platform === 'sunos',
  isAIX: process.platform === 'aix',
  isIBMi: false,
  isDumbTerminal: process.env.TERM === 'dumb',
  isMainThread: require('node:worker_threads').isMainThread,
  hasIPv6: true,
  get isRoot() {
    return process.getuid?.() === 0;
  },
  tmpDir: path.join(require('node:os').tmpdir(), `node-style-${process.pid}`),
};
