/**
 * PID namespaces (issue 29): `sandbox.pidNamespace` and `containment: 'pidns'`. The child is
 * PID 1 of a new namespace and execs our init (native/init_linux.c), which runs the program as
 * PID 2, forwards signals to it, reaps orphans and reports the program's exact wait status.
 * When init dies (its PDEATHSIG fires when we die) the kernel kills the whole namespace.
 * Without root the namespace comes through a user namespace that maps only our own ids.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { addonPath } from '../native.js';

/** The file name of our init, installed next to the addon (build/Release, prebuilds/<platform>/). */
export const INIT_NAME = 'core-process-init';

let cachedInit: string | null | undefined;

/**
 * Our init beside the loaded addon, or null when this install has none (macOS, a build that
 * predates it).
 *
 * @example
 * initPath(); // '/app/node_modules/@core/process/build/Release/core-process-init'
 */
export function initPath(): string | null {
  if (cachedInit !== undefined) return cachedInit;
  const file = path.join(path.dirname(addonPath), INIT_NAME);
  try {
    accessSync(file, constants.X_OK);
    cachedInit = file;
  } catch {
    cachedInit = null;
  }
  return cachedInit;
}

function sysctl(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

let cachedWhy: string | null | undefined;

/**
 * Why this host cannot give a child a PID namespace, or null when it can: not Linux, no init
 * beside the addon, or (without root) unprivileged user namespaces switched off by a sysctl
 * (kernel.unprivileged_userns_clone, user.max_user_namespaces, Ubuntu's AppArmor restriction),
 * or CORE_PROCESS_NO_PIDNS=1.
 *
 * @example
 * pidNamespaceUnavailable(); // null on a stock kernel
 */
export function pidNamespaceUnavailable(): string | null {
  if (cachedWhy !== undefined) return cachedWhy;
  cachedWhy = probe();
  return cachedWhy;
}

function probe(): string | null {
  // Diagnostics and tests of the fallback: behave as a host without PID namespaces.
  if (process.env.CORE_PROCESS_NO_PIDNS === '1') return 'CORE_PROCESS_NO_PIDNS=1 is set';
  if (process.platform !== 'linux') return `PID namespaces need Linux (this: ${process.platform})`;
  if (initPath() === null) {
    return `no ${INIT_NAME} beside the addon (${path.dirname(addonPath)}); rebuild or reinstall the package`;
  }
  if (!existsSync('/proc/self/ns/pid')) return 'this kernel has no PID namespaces';
  if (sysctl('/proc/sys/user/max_pid_namespaces') === '0') return 'user.max_pid_namespaces is 0';
  if (process.geteuid?.() === 0) return null;
  if (sysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
    return 'unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0)';
  }
  if (sysctl('/proc/sys/user/max_user_namespaces') === '0') return 'user.max_user_namespaces is 0';
  if (sysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)';
  }
  return null;
}

let warned = false;
/** Once per process: containment 'pidns' was asked for and falls back to 'cgroup'. */
export function warnNoPidNamespace(why: string): void {
  if (warned) return;
  warned = true;
  process.emitWarning(
    `containment 'pidns' is not available here (${why}); using 'cgroup' with dieWithParent, whose setsid'd members outlive a crash until the next start reaps them`,
    { type: 'CoreProcessWarning', code: 'CORE_PROCESS_NO_PIDNS' },
  );
}
