/**
 * sandbox.filesystem: which kernel mechanisms can enforce it here, chosen once, refused with a
 * typed error naming what is missing, and reported on the handle (`child.sandbox`). Landlock
 * ABI >= 3 confines everything alone; ABI 1-2 cannot deny truncate(2), so the child also gets
 * a mount namespace where everything but the write roots is read-only (EROFS), made through a
 * user namespace that maps only our own ids when we are not root.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errnoName, invalid, ProcessError } from '../errors.js';
import { type NativeSandbox, native } from '../native.js';
import { checkKnownKeys } from './keys.js';

/** Landlock ABI 3 added TRUNCATE: below it the read-only mounts confine truncate(2). */
export const LANDLOCK_MIN_ABI = 3;

/**
 * Test and diagnostic override: build the Landlock ruleset for this lower ABI (1 or 2), as
 * on a 5.13-6.1 kernel, so the ABI 1-2 path runs on a newer one. It can only lower the ABI.
 */
export const LANDLOCK_ABI_ENV = 'CORE_PROCESS_LANDLOCK_ABI';

/** A mechanism enforcing sandbox.filesystem: `landlock-abi<N>`, or the read-only mounts. */
export type FilesystemMechanism = `landlock-abi${number}` | 'mount-readonly';

/** What enforces each part of a child's sandbox: nothing asked for is reported as used. */
export interface SandboxEnforcement {
  /** PR_SET_NO_NEW_PRIVS: always, with any sandbox. */
  readonly noNewPrivileges: true;
  /** setsid(): always, with any sandbox. */
  readonly newSession: true;
  /** Landlock at the ABI the ruleset was built for, plus 'mount-readonly' below ABI 3. */
  readonly filesystem: readonly FilesystemMechanism[] | null;
  readonly syscalls: 'seccomp' | null;
  readonly network: 'network-namespace' | null;
  readonly privateTmp: 'mount-namespace' | null;
  /** True when the namespaces came through a user namespace mapping only our own ids. */
  readonly userNamespace: boolean;
}

interface KernelSandbox {
  /** Landlock ABI in use (the override applied), or -errno when Landlock is absent. */
  landlockAbi: number;
  seccompArch: string;
}

// What the kernel offers does not change while we run: asked once, not on every spawn.
let info: KernelSandbox | undefined;

/**
 * The kernel's sandbox facilities, with the CORE_PROCESS_LANDLOCK_ABI override applied.
 * @example
 * kernelSandbox(); // { landlockAbi: 6, seccompArch: 'x86_64' }
 */
export function kernelSandbox(): KernelSandbox {
  if (info !== undefined) return info;
  const raw = native.sandboxInfo();
  let abi = raw.landlockAbi;
  const forced = process.env[LANDLOCK_ABI_ENV];
  if (forced !== undefined && forced !== '') {
    const n = Number(forced);
    if (!Number.isInteger(n) || n < 1) {
      throw invalid(LANDLOCK_ABI_ENV, forced, 'must be a Landlock ABI version, 1 or more');
    }
    if (abi > n) abi = n;
  }
  info = { landlockAbi: abi, seccompArch: raw.seccompArch };
  return info;
}

function unsupported(why: string): ProcessError {
  return new ProcessError('Unsupported', `sandbox.filesystem: ${why}`, {
    field: 'sandbox.filesystem',
    code: 'ENOTSUP',
  });
}

function sysctl(name: string): string | null {
  try {
    return readFileSync(`/proc/sys/${name}`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Why an unprivileged user namespace cannot be made here, or null when nothing says so. */
function usernsBlocked(): string | null {
  if (sysctl('kernel/unprivileged_userns_clone') === '0') {
    return 'kernel.unprivileged_userns_clone is 0';
  }
  if (sysctl('user/max_user_namespaces') === '0') return 'user.max_user_namespaces is 0';
  if (sysctl('kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return 'kernel.apparmor_restrict_unprivileged_userns is 1';
  }
  return null;
}

function paths(field: string, value: unknown): string[] {
  if (!Array.isArray(value)) throw invalid(field, value, 'must be an array of paths');
  return Array.from(value, (p: unknown, i) => {
    if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) {
      throw invalid(`${field}[${i}]`, p, 'must be a non-empty path without NUL');
    }
    return path.resolve(p);
  });
}

/**
 * Validates sandbox.filesystem and picks its mechanisms for this kernel; Unsupported names
 * what is missing (Landlock; below ABI 3, an unprivileged user namespace).
 * @example
 * resolveFilesystem({ write: ['/tmp/out'] });
 * // { write: ['/tmp/out'], abi: 2, mountReadonly: true } on a 6.1 kernel
 */
export function resolveFilesystem(value: unknown): NonNullable<NativeSandbox['landlock']> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('sandbox.filesystem', value, 'must be { write: [paths], read?: [paths] }');
  }
  checkKnownKeys(
    value,
    new Set(['write', 'read']),
    'sandbox.filesystem option',
    'sandbox.filesystem',
  );
  const f = value as { write?: unknown; read?: unknown };
  const write = paths('sandbox.filesystem.write', f.write ?? []);
  const read = f.read === undefined ? undefined : paths('sandbox.filesystem.read', f.read);
  const abi = kernelSandbox().landlockAbi;
  if (abi < 1) {
    throw unsupported(
      `Landlock is not available in this kernel (${errnoName(-abi)}: ${-abi === 95 ? 'built but not enabled, see lsm= on the kernel command line' : 'not built'})`,
    );
  }
  // Below ABI 3 truncate(2) is confined by read-only mounts; with / writable there is nothing
  // outside the write roots to protect.
  const mountReadonly = abi < LANDLOCK_MIN_ABI && !write.includes('/');
  if (mountReadonly && process.geteuid?.() !== 0) {
    const blocked = usernsBlocked();
    if (blocked !== null) {
      throw unsupported(
        `Landlock ABI ${abi} cannot deny truncate(2), and the read-only mount namespace that would needs an unprivileged user namespace, which this kernel refuses (${blocked})`,
      );
    }
  }
  return { write, ...(read && { read }), abi, mountReadonly };
}

/**
 * What enforces a resolved sandbox, as the addon will build it (native/sandbox_linux.cc).
 * @example
 * describeSandbox({ landlock: { write: [], abi: 2, mountReadonly: true } }).filesystem;
 * // ['landlock-abi2', 'mount-readonly']
 */
export function describeSandbox(s: NativeSandbox): SandboxEnforcement {
  const ll = s.landlock;
  const filesystem: FilesystemMechanism[] | null = ll
    ? [`landlock-abi${ll.abi}`, ...(ll.mountReadonly ? (['mount-readonly'] as const) : [])]
    : null;
  const namespaces = (s.network ?? 0) !== 0 || s.privateTmp === true || ll?.mountReadonly === true;
  return {
    noNewPrivileges: true,
    newSession: true,
    filesystem,
    syscalls: s.seccomp ? 'seccomp' : null,
    network: (s.network ?? 0) !== 0 ? 'network-namespace' : null,
    privateTmp: s.privateTmp ? 'mount-namespace' : null,
    userNamespace: namespaces && process.geteuid?.() !== 0,
  };
}
