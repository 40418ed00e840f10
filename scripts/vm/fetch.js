#!/usr/bin/env node
// Fetches what the VM lanes boot, into ~/.cache/core-process/vm/<lane>/root: Debian 12's
// current 6.1 kernel package and busybox-static of the lane's architecture, downloaded with
// apt-get and unpacked with dpkg -x (nothing is installed on the host), then depmod over the
// unpacked modules (their package's postinst would do that); for arm64 also the official arm64
// Node of the host's version, from npm (scripts/lib/node-line.js). Run from .ci/run, never at test
// time.
//
//   node scripts/vm/fetch.js              # every lane
//   node scripts/vm/fetch.js x64-6.1      # one lane
//
// The arm64 lane needs the arm64 architecture in apt:
//   dpkg --add-architecture arm64 && apt-get update
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { nodeBinary } from '../lib/node-line.js';
import { LANES, laneByName, laneDir, laneFiles } from './lanes.js';

const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });

function fetchLane(lane) {
  // A foreign lane runs the official Node of the host's version, for its architecture.
  if (lane.foreign)
    console.log(`vm fetch: ${lane.name} node: ${nodeBinary(process.versions.node, lane.debArch)}`);
  if (laneFiles(lane).ok) {
    console.log(`vm fetch: ${lane.name} already in ${laneDir(lane)}`);
    return;
  }
  const q = (pkg) => `${pkg}:${lane.debArch}`;
  // The meta package names the current ABI's image (linux-image-6.1.0-NN-<arch>).
  const depends = run('apt-cache', ['depends', q(lane.kernelMeta)]);
  const image = /Depends: (linux-image-\S+)/.exec(depends)?.[1]?.replace(/:\w+$/, '');
  if (!image) throw new Error(`vm fetch: apt-cache depends ${q(lane.kernelMeta)} named no image`);
  const dir = laneDir(lane);
  const dl = mkdtempSync(path.join(path.dirname(dir), `.${lane.name}-`));
  try {
    // apt's sandbox user cannot write into root's cache: download as root, said once.
    run('apt-get', ['download', '-q', q(image), q('busybox-static')], {
      cwd: dl,
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(path.join(dir, 'root'), { recursive: true });
    for (const deb of readdirSync(dl).filter((f) => f.endsWith('.deb'))) {
      run('dpkg', ['-x', path.join(dl, deb), path.join(dir, 'root')]);
    }
  } finally {
    rmSync(dl, { recursive: true, force: true });
  }
  const kver = image.slice('linux-image-'.length);
  run('/usr/sbin/depmod', ['-b', path.join(dir, 'root'), kver]);
  const files = laneFiles(lane);
  if (!files.ok)
    throw new Error(`vm fetch: ${lane.name} still missing ${files.missing.join('; ')}`);
  console.log(`vm fetch: ${lane.name}: ${image} and busybox-static:${lane.debArch} in ${dir}`);
}

const names = process.argv.slice(2);
const lanes = names.length > 0 ? names.map(laneByName) : Object.values(LANES);
for (const lane of lanes) fetchLane(lane);
if (!existsSync('/usr/sbin/modprobe')) console.log('vm fetch: note: kmod (modprobe) not found');
