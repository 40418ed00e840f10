'use strict';
const common = require('../common');
const assert = require('assert');
const fs = require('fs');
const { spawn } = require('child_process');

function stat(pid) {
  const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pgid: Number(f[2]), sid: Number(f[3]) };
}

const child = spawn('sleep', ['5'], { detached: true, stdio: 'ignore' });
assert.deepStrictEqual(stat(child.pid), { pgid: child.pid, sid: child.pid });
process.kill(-child.pid, 'SIGKILL');
child.on(
  'exit',
  common.mustCall((code, signal) => assert.strictEqual(signal, 'SIGKILL')),
);

const attached = spawn('sleep', ['5'], { stdio: 'ignore' });
assert.strictEqual(stat(attached.pid).pgid, stat(process.pid).pgid);
attached.kill('SIGKILL');
