'use strict';
const common = require('../common');
const fixtures = require('../common/fixtures');
const assert = require('assert');
const net = require('net');
const { fork } = require('child_process');

// A connection accepted here is handed to the child, which answers it; ours is closed once
// the child has it, so the client sees the child's line and then the end.
const child = fork(fixtures.path('child-handle-kinds.js'), [], { execArgv: [] });
const server = net.createServer(
  common.mustCall((conn) => {
    child.send('socket', conn, common.mustSucceed());
  }),
);
server.listen(
  0,
  '127.0.0.1',
  common.mustCall(() => {
    const client = net.connect(server.address().port, '127.0.0.1');
    let text = '';
    client.setEncoding('utf8');
    client.on('data', (d) => {
      text += d;
    });
    client.on(
      'end',
      common.mustCall(() => {
        assert.strictEqual(text, `from child ${child.pid}\n`);
        server.close();
        child.send('bye');
      }),
    );
  }),
);
child.on(
  'message',
  common.mustCall((m) => assert.strictEqual(m, 'socket done')),
);
