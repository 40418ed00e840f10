// The runner's stand-in for Node's test/common/fixtures: paths under the test tree's
// fixtures directory (a sibling of the directory the test files are in).
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const fixturesDir = path.resolve(process.env.CORE_COMPAT_DIR ?? process.cwd(), '..', 'fixtures');

module.exports = {
  fixturesDir,
  path: (...parts) => path.join(fixturesDir, ...parts),
  readSync: (parts, enc) => fs.readFileSync(path.join(fixturesDir, ...[].concat(parts)), enc),
};
