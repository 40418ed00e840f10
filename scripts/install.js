#!/usr/bin/env node
// `npm install`'s install step: the matching prebuild when there is one (node-gyp-build's own
// choice), else node-gyp against the headers of the Node running this script. node-gyp left
// alone would download headers from nodejs.org unless npm's `nodedir` is configured, which
// fails offline and on every locked-down machine; an official Node install and distribution
// packages (libnode-dev) carry the same headers in <prefix>/include/node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const prefix = path.resolve(process.execPath, '..', '..');
  if (existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
    env.npm_config_nodedir = prefix;
  } else {
    console.warn(
      `@core/process: no Node headers in ${prefix}/include/node; node-gyp will try to download them (set npm's nodedir to avoid it)`,
    );
  }
}
const bin = createRequire(import.meta.url).resolve('node-gyp-build/bin.js');
const r = spawnSync(process.execPath, [bin], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
