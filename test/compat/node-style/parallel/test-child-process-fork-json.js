'use strict';
const common = require('../common');
const fixtures = require('../common/fixtures');
const assert = require('assert');
const { fork } = require('child_process');

const child = fork(fixtures.path('child-echo.js'), [], { execArgv: [] });
assert.strictEqual(child.connected, true);
const sent = [{ a: 1 }, 'text', 42, [true, null], { nested: { deep: 'é' } }];
const got = [];
child.on(
  'message',
  common.mustCall((m) => {
    got.push(m.echo);
    if (got.length === sent.length) {
      assert.deepStrictEqual(got, sent);
      child.send({ cmd: 'quit' });
    }
  }, sent.length),
);
child.on(
  'disconnect',
  common.mustCall(() => assert.strictEqual(child.connected, false)),
);
child.on(
  'exit',
  common.mustCall((code) => assert.strictEqual(code, 0)),
);
for (const m of sent) child.send(m);
