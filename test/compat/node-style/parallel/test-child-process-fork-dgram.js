'use strict';
const common = require('../common');
const fixtures = require('../common/fixtures');
const assert = require('assert');
const dgram = require('dgram');
const { fork } = require('child_process');

// A bound UDP socket goes to the child; with ours closed, the child answers the datagram.
const child = fork(fixtures.path('child-handle-kinds.js'), [], { execArgv: [] });
const socket = dgram.createSocket('udp4');
socket.bind(
  0,
  '127.0.0.1',
  common.mustCall(() => {
    const { port } = socket.address();
    child.send('dgram', socket);
    child.once(
      'message',
      common.mustCall((m) => {
        assert.strictEqual(m, 'dgram ready');
        socket.close();
        const client = dgram.createSocket('udp4');
        client.on(
          'message',
          common.mustCall((data) => {
            assert.strictEqual(String(data), 'echo ping');
            client.close();
            child.send('bye');
          }),
        );
        client.send('ping', port, '127.0.0.1');
      }),
    );
  }),
);
