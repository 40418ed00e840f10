/**
 * Program resolution as execvp does it, so the policy checks the file that would really run,
 * and the service then runs exactly that file (by absolute path) whatever PATH says later.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The absolute, symlink-free path of the program `execvp` would run, or null when none.
 * A name with '/' is taken relative to `cwd`; a bare name is searched in `searchPath`
 * (an empty entry meaning `cwd`, as execvp does).
 *
 * @example
 * resolveProgram('git', process.env.PATH, process.cwd()); // '/usr/bin/git'
 */
export function resolveProgram(
  program: string,
  searchPath: string | undefined,
  cwd: string,
): string | null {
  if (program.length === 0) return null;
  const candidates = program.includes('/')
    ? [path.resolve(cwd, program)]
    : (searchPath ?? DEFAULT_PATH).split(':').map((dir) => path.resolve(cwd, dir || '.', program));
  for (const file of candidates) {
    if (!executable(file)) continue;
    try {
      return realpathSync(file);
    } catch {
      // vanished between the checks: keep looking, as execvp would
    }
  }
  return null;
}
