// Finding the host tools the cross builds and checks use.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The first of `names` found on PATH, as an absolute path, or undefined.
 * @param {string[]} names
 * @example findTool(['llvm-objdump', 'llvm-objdump-14']) // '/usr/bin/llvm-objdump-14'
 */
export function findTool(names) {
  for (const name of names) {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      const full = path.join(dir, name);
      if (dir && existsSync(full)) return full;
    }
  }
  return undefined;
}

/**
 * Node's own headers (node_api.h, uv.h), where node-gyp takes them with nodedir and where an
 * official Node install keeps them.
 * @example nodeIncludeDir() // '/usr/include/node'
 */
export function nodeIncludeDir() {
  const nodedir = process.env.npm_config_nodedir;
  const candidates = [
    ...(nodedir ? [path.join(nodedir, 'include', 'node')] : []),
    path.resolve(process.execPath, '..', '..', 'include', 'node'),
  ];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'node_api.h')));
  if (!found) throw new Error(`Node's headers not found in ${candidates.join(' or ')}`);
  return found;
}

/**
 * Runs a command, returning stdout; the error names the command.
 * @param {string} cmd
 * @param {string[]} args
 * @param {import('node:child_process').ExecFileSyncOptions} [options]
 * @example sh('objdump', ['-T', file])
 */
export function sh(cmd, args, options = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}
