'use strict';
const common = require('../common');
const fixtures = require('../common/fixtures');
const assert = require('assert');
const { fork } = require('child_process');

const child = fork(fixtures.path('child-echo.js'), [], { serialization: 'advanced', execArgv: [] });
const value = {
  buf: Buffer.from('bytes'),
  u16: new Uint16Array([1, 65535]),
  map: new Map([[1, { x: 2n }]]),
  set: new Set(['s']),
  date: new Date(0),
  re: /ab+c/i,
  undef: undefined,
};
child.on(
  'message',
  common.mustCall((m) => {
    assert.deepStrictEqual(Buffer.from(m.echo.buf), Buffer.from('bytes'));
    assert.deepStrictEqual(m.echo.u16, new Uint16Array([1, 65535]));
    assert.deepStrictEqual(m.echo.map, value.map);
    assert.deepStrictEqual(m.echo.set, value.set);
    assert.deepStrictEqual(m.echo.date, value.date);
    assert.deepStrictEqual(m.echo.re, value.re);
    assert.ok('undef' in m.echo);
    child.disconnect();
  }),
);
child.on(
  'exit',
  common.mustCall((code) => assert.strictEqual(code, 0)),
);
child.send(value);
