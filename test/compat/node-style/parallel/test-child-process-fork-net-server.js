'use strict';
const common = require('../common');
const fixtures = require('../common/fixtures');
const assert = require('assert');
const net = require('net');
const { fork } = require('child_process');

// A listening server goes to the child; once ours is closed, connections reach the child's.
const child = fork(fixtures.path('child-handle-kinds.js'), [], { execArgv: [] });
const server = net.createServer(common.mustNotCall());
server.listen(
  0,
  '127.0.0.1',
  common.mustCall(() => {
    const { port } = server.address();
    child.send('server', server);
    child.once(
      'message',
      common.mustCall((m) => {
        assert.strictEqual(m, 'server ready');
        server.close();
        const client = net.connect(port, '127.0.0.1');
        let text = '';
        client.setEncoding('utf8');
        client.on('data', (d) => {
          text += d;
        });
        client.on(
          'end',
          common.mustCall(() => {
            assert.strictEqual(text, `from child ${child.pid}\n`);
            child.kill();
          }),
        );
      }),
    );
  }),
);
