// The guest's initramfs, built per boot (a few MB, milliseconds): busybox-static, the lane's
// kernel modules for the 9p shares and overlayfs, and two scripts. /init mounts the host's /
// read-only over virtio-9p under a tmpfs overlay and switch_roots into it, so the guest sees
// the very files the host does (this checkout, its build/ and dist/, node_modules) and may
// write anywhere without touching them. /stage2 then makes it a host like a current distro's
// (proc, sys, dev, /tmp, cgroup2 at /sys/fs/cgroup with every controller delegated, no v1
// hierarchy), runs the command and powers off.
import { readFileSync } from 'node:fs';
import path from 'node:path';

// The newc cpio format the kernel unpacks (Documentation/driver-api/early-userspace/
// buffer-format.rst): a 110-byte ASCII header, the NUL-terminated name, the data, each padded
// to 4 bytes.
function cpio(entries) {
  const chunks = [];
  const pad = (n) => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const add = ({ name, mode, data = Buffer.alloc(0), rdev = [0, 0] }) => {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [
      ino++,
      mode,
      0,
      0,
      1,
      0,
      data.length,
      0,
      0,
      rdev[0],
      rdev[1],
      nameBuf.length,
      0,
    ];
    const header = `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`;
    chunks.push(Buffer.from(header), nameBuf, pad(110 + nameBuf.length), data, pad(data.length));
  };
  for (const e of entries) add(e);
  add({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(chunks);
}

const DIR = 0o040755;
const FILE = 0o100755;
const CHR = 0o020600;

// Runs as PID 1 from the initramfs. Failures power off with the reason on the console; the
// harness shows the console whenever the command's exit code did not come back.
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
fail() { echo "vm init: $*"; poweroff -f; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.order); do insmod "/modules/$m" || fail "insmod $m"; done
o=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$o,cache=loose,ro" hostroot /mnt/lower || fail "9p mount of the host root"
mount -t tmpfs -o mode=0755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot \\
  || fail "overlay over the host root"
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mkdir -p /newroot/run/vm/out
mount -t 9p -o "$o" vmout /newroot/run/vm/out || fail "9p mount of the results share"
cp /bin/busybox /stage2 /newroot/run/vm/
ip link set lo up
umount /proc /sys /dev
exec switch_root /newroot /run/vm/busybox sh /run/vm/stage2
`;

// Runs as PID 1 in the host's root (overlaid). Only the static busybox is trusted to run on
// every lane; the command runs under /bin/sh, the host's on x64 and busybox's on arm64.
const STAGE2 = `B=/run/vm/busybox
. /run/vm/out/vm.env
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev
$B mkdir -p /dev/pts /dev/shm
$B mount -t devpts devpts /dev/pts
$B mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# A fresh /tmp, but the host's stays reachable: a checkout under it (CI clones into temp
# directories) is bound back at its own path, or the command could not even cd there.
$B mkdir -p /run/vm/hosttmp
$B mount --bind /tmp /run/vm/hosttmp
$B mount -t tmpfs -o mode=1777 tmpfs /tmp
case "$VM_CWD" in
  /tmp/*) $B mkdir -p "$VM_CWD" && $B mount --bind "/run/vm/hosttmp/\${VM_CWD#/tmp/}" "$VM_CWD" ;;
esac
$B mount -t cgroup2 cgroup2 /sys/fs/cgroup
for c in cpuset cpu io memory pids; do
  echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "vm: controller $c not delegated"
done
if [ -n "$VM_FOREIGN" ]; then
  # The host's programs are of another architecture: busybox stands in for them, the
  # official Node of the guest's architecture is node, and the loader it names is the cross
  # toolchain's (LD_LIBRARY_PATH in cmd.sh finds its libraries).
  for d in /usr/bin /usr/sbin; do
    $B mount -t tmpfs -o mode=0755 tmpfs $d
    $B --install -s $d
  done
  $B ln -sf "$VM_NODE" /usr/bin/node
  $B ln -sf /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 /usr/lib/ld-linux-aarch64.so.1
fi
$B hostname "$VM_LANE"
echo "vm: $VM_LANE $($B uname -r) $($B uname -m), cgroup2 controllers: $($B cat /sys/fs/cgroup/cgroup.subtree_control)" > /run/vm/out/log
(cd / && /bin/sh /run/vm/out/cmd.sh; echo $? > /run/vm/out/rc.tmp) </dev/null >> /run/vm/out/log 2>&1
$B mv /run/vm/out/rc.tmp /run/vm/out/rc
$B sync
$B poweroff -f
`;

/**
 * The initramfs for a lane, as one uncompressed newc archive.
 * @param {{ busybox: string, modules: string }} files  from laneFiles()
 * @param {string[]} modules  module paths under files.modules, in load order
 * @example writeFileSync(initrd, buildInitramfs(laneFiles(lane), moduleOrder(files)))
 */
export function buildInitramfs(files, modules) {
  const entries = [
    ...['bin', 'dev', 'proc', 'sys', 'mnt', 'mnt/lower', 'mnt/rw', 'newroot', 'modules'].map(
      (name) => ({ name, mode: DIR }),
    ),
    { name: 'dev/console', mode: CHR, rdev: [5, 1] },
    { name: 'bin/busybox', mode: FILE, data: readFileSync(files.busybox) },
    { name: 'init', mode: FILE, data: Buffer.from(INIT) },
    { name: 'stage2', mode: FILE, data: Buffer.from(STAGE2) },
    { name: 'modules.order', mode: 0o100644, data: Buffer.from(`${modules.join('\n')}\n`) },
  ];
  const dirs = new Set();
  for (const m of modules) {
    const parts = path.dirname(m).split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = `modules/${parts.slice(0, i).join('/')}`;
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ name: d, mode: DIR });
      }
    }
    entries.push({
      name: `modules/${m}`,
      mode: 0o100644,
      data: readFileSync(path.join(files.modules, m)),
    });
  }
  return cpio(entries);
}
