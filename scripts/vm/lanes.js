// The kernels users run, as qemu lanes: Debian 12's own kernel packages (6.1), booted under
// TCG (this machine's nested KVM does not boot guests: NATIVE-NOTES §9), with the host's /
// as the guest's root. Everything a lane needs is fetched once into the cache by
// scripts/vm/fetch.js (apt-get download + dpkg -x: no kernel is installed on the host).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { cacheDir } from '../lib/node-line.js';
import { findTool } from '../lib/tools.js';

/**
 * @typedef {object} Lane
 * @property {string} name          lane name, as `--lane` takes it
 * @property {string} debArch       Debian architecture of the kernel and busybox packages
 * @property {string} kernelMeta    Debian's meta package that names the current 6.1 kernel
 * @property {string} qemu          qemu-system binary
 * @property {string} qemuPackage   where that binary comes from (apt)
 * @property {string[]} machine     qemu machine/cpu arguments
 * @property {string} console       the guest's serial console device
 * @property {boolean} foreign      the guest cannot run the host's binaries (its userland is
 *                                  busybox plus the official Node of its architecture)
 */

/** @type {Record<string, Lane>} */
export const LANES = {
  'x64-6.1': {
    name: 'x64-6.1',
    debArch: 'amd64',
    kernelMeta: 'linux-image-amd64',
    qemu: 'qemu-system-x86_64',
    qemuPackage: 'qemu-system-x86',
    machine: ['-M', 'q35', '-cpu', 'max'],
    console: 'ttyS0',
    foreign: false,
  },
  'arm64-6.1': {
    name: 'arm64-6.1',
    debArch: 'arm64',
    kernelMeta: 'linux-image-arm64',
    qemu: 'qemu-system-aarch64',
    qemuPackage: 'qemu-system-arm',
    machine: ['-M', 'virt', '-cpu', 'max'],
    console: 'ttyAMA0',
    foreign: true,
  },
};

/** Short names: `--lane x64`, `--lane arm64`. */
export function laneByName(name) {
  const lane = LANES[name] ?? Object.values(LANES).find((l) => l.name.startsWith(`${name}-`));
  if (!lane) {
    throw new Error(`vm: no lane '${name}' (lanes: ${Object.keys(LANES).join(', ')})`);
  }
  return lane;
}

/** Where a lane's kernel, modules and busybox are extracted. */
export function laneDir(lane) {
  return path.join(cacheDir(), 'vm', lane.name);
}

/**
 * A fetched lane's files, or the list of what is missing with how to get it.
 * @param {Lane} lane
 * @returns {{ ok: true, kernel: string, kver: string, modules: string, busybox: string, qemu: string } | { ok: false, missing: string[] }}
 * @example laneFiles(LANES['x64-6.1']).kver // '6.1.0-57-amd64'
 */
export function laneFiles(lane) {
  const dir = laneDir(lane);
  const missing = [];
  const qemu = findTool([lane.qemu]);
  if (!qemu) missing.push(`${lane.qemu} (apt-get install ${lane.qemuPackage})`);
  const boot = path.join(dir, 'root', 'boot');
  const kernelName = existsSync(boot)
    ? readdirSync(boot).find((f) => f.startsWith('vmlinuz-'))
    : undefined;
  const busybox = path.join(dir, 'root', 'bin', 'busybox');
  if (!kernelName || !existsSync(busybox)) {
    missing.push(`the ${lane.name} kernel and busybox (node scripts/vm/fetch.js ${lane.name})`);
  }
  if (lane.foreign && !existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')) {
    missing.push('/usr/aarch64-linux-gnu (apt-get install libc6-arm64-cross)');
  }
  if (missing.length > 0) return { ok: false, missing };
  const kver = kernelName.slice('vmlinuz-'.length);
  return {
    ok: true,
    kernel: path.join(boot, kernelName),
    kver,
    modules: path.join(dir, 'root', 'lib', 'modules', kver),
    busybox,
    qemu,
  };
}

/**
 * The kernel modules the guest loads from its initramfs, dependencies first, in the order
 * modprobe prints them (a wrong order fails with "unknown symbol in module"); built-ins are
 * left out. virtio-pci carries the 9p shares, overlay makes the read-only host root writable
 * in RAM, virtio-rng seeds the guest's entropy pool for Node's startup.
 * @returns {string[]} paths relative to the modules directory
 */
export function moduleOrder(files) {
  const root = path.dirname(path.dirname(path.dirname(files.modules))); // <dir>/root
  const out = execFileSync(
    '/usr/sbin/modprobe',
    [
      '--show-depends',
      '-a',
      '-d',
      root,
      '-S',
      files.kver,
      'virtio_pci',
      '9pnet_virtio',
      '9p',
      'overlay',
      'virtio_rng',
    ],
    { encoding: 'utf8' },
  );
  const seen = new Set();
  const list = [];
  for (const line of out.split('\n')) {
    const m = /^insmod (\S+)/.exec(line);
    if (!m) continue;
    const rel = path.relative(files.modules, m[1]);
    if (!seen.has(rel)) {
      seen.add(rel);
      list.push(rel);
    }
  }
  return list;
}
