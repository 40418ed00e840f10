// binding.gyp as data, for the builds that node-gyp does not drive (the zig cross-compiles and
// their checks): the same sources, defines and flags the release build uses, so a check can
// never pass on a file list of its own.
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @param {string} root the package root
 * @param {'linux' | 'mac'} os the gyp OS name
 * @returns {{ sources: string[], defines: string[], cflags: string[], xcode: Record<string, unknown> }}
 * @example
 * const { sources } = readGyp(root, 'mac'); // ['native/addon.cc', ..., 'native/sched_darwin.cc']
 */
export function readGyp(root, os) {
  // gyp files are Python literals; ours keeps to the JSON subset plus whole-line # comments.
  const text = readFileSync(path.join(root, 'binding.gyp'), 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
  const target = JSON.parse(text).targets[0];
  const sources = [...target.sources];
  let xcode = {};
  for (const [condition, branch] of target.conditions ?? []) {
    if (condition !== `OS=='${os}'`) continue;
    sources.push(...(branch.sources ?? []));
    xcode = branch.xcode_settings ?? {};
  }
  return { sources, defines: target.defines, cflags: target.cflags_cc, xcode };
}
