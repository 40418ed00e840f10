/** Which kernel mechanisms this process uses, for diagnostics and tests. */
import { native } from '../native.js';

export interface Backend {
  /** How exits are observed: a pidfd on the loop, or the SIGCHLD fallback (also macOS). */
  exit: 'pidfd' | 'sigchld';
  /** 'clone' when CORE_PROCESS_FORCE_CLONE forces the clone path for every spawn. */
  spawn: 'auto' | 'clone';
  /**
   * posix_spawn file actions found at load (glibc: looked up by symbol version, so one
   * prebuild loads on glibc 2.28). Without `addclosefrom` (glibc before 2.34, musl) every
   * spawn takes the clone child; without `addchdir` (before 2.29), every spawn with a `cwd`.
   * CORE_PROCESS_NO_SPAWN_EXTENSIONS=1 treats both as absent.
   */
  spawnExtensions: { addclosefrom: boolean; addchdir: boolean };
  /**
   * How the next child with a cgroup v2 directory (containment 'cgroup', limits) enters it:
   * 'clone3' creates it inside (clone3 CLONE_INTO_CGROUP, Linux 5.7+, x64 and arm64), 'join'
   * has it write cgroup.procs before exec. Turns to 'join' for good once the kernel refuses
   * clone3 (ENOSYS, a seccomp EPERM, E2BIG/EINVAL before 5.7); CORE_PROCESS_NO_CLONE3=1 starts
   * there.
   */
  intoCgroup: 'clone3' | 'join';
}

/**
 * @example
 * backend(); // { exit: 'pidfd', spawn: 'auto', spawnExtensions: { addclosefrom: true, addchdir: true }, intoCgroup: 'clone3' }
 */
export function backend(): Backend {
  return native.backend();
}
