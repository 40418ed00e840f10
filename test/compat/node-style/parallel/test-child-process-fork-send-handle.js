'use strict';
const common = require('../common');
const fixtures = require('../common/fixtures');
const assert = require('assert');
const net = require('net');
const { fork } = require('child_process');

// Handle passing: a listening server goes to the child with the message.
const child = fork(fixtures.path('child-handle.js'), [], { execArgv: [] });
const server = net.createServer();
server.listen(
  0,
  common.mustCall(() => {
    child.send('server', server, common.mustSucceed());
    child.on(
      'message',
      common.mustCall((m) => {
        assert.deepStrictEqual(m, { got: 'server', hasHandle: true });
        server.close();
      }),
    );
  }),
);
