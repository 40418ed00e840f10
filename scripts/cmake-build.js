#!/usr/bin/env node
// Runs cmake-js offline. For a Node-API addon cmake-js needs no Node sources, but it still
// fetches a Node distribution unless npm's `nodedir` names a local one; point it at the
// headers that ship with this Node (<prefix>/include/node), as node-gyp uses them.
// Usage: node scripts/cmake-build.js [cmake-js args...]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function localNodeDir() {
  const prefix = path.resolve(process.execPath, '..', '..');
  return existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

export function cmakeJs(args) {
  const env = { ...process.env };
  const nodedir = env.npm_config_nodedir || localNodeDir();
  if (!nodedir) {
    throw new Error(
      'cmake-js: no local Node headers (<prefix>/include/node); set npm_config_nodedir',
    );
  }
  env.npm_config_nodedir = nodedir;
  const r = spawnSync(path.join(root, 'node_modules', '.bin', 'cmake-js'), args, {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (r.status !== 0)
    throw new Error(`cmake-js ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  cmakeJs(process.argv.slice(2));
}
