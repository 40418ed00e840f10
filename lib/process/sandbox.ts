/**
 * The sandbox option of spawn(): what a child may do after exec. Validated and resolved here
 * (syscall names to this architecture's numbers, paths made absolute), and refused with a
 * typed error naming what the kernel lacks: never a silent downgrade.
 */
import { describe, errnoName, invalid, ProcessError } from '../errors.js';
import { type NativeSandbox, type NativeSpawnError, native } from '../native.js';
import { checkKnownKeys } from './keys.js';
import { pidNamespaceUnavailable } from './pidns.js';
import { kernelSandbox, resolveFilesystem } from './sandbox-fs.js';

export {
  describeSandbox,
  type FilesystemMechanism,
  LANDLOCK_ABI_ENV,
  LANDLOCK_MIN_ABI,
  type SandboxEnforcement,
} from './sandbox-fs.js';

/** A deny list of system calls: each returns EPERM in the child. */
export interface SyscallDenyList {
  deny: readonly string[];
}

export interface SandboxOptions {
  /** PR_SET_NO_NEW_PRIVS: exec never grants privileges (setuid bits, file caps). Implied. */
  noNewPrivileges?: boolean;
  /**
   * 'none': an empty network namespace (not even loopback); 'loopback': a namespace of its
   * own whose `lo` is up; 'host' (default): ours. Without root this goes through a user
   * namespace that maps only the caller's own ids.
   */
  network?: 'none' | 'loopback' | 'host';
  /**
   * Landlock: the child may write, create, remove, rename and truncate only under `write`;
   * it may read and execute under `read` (default: everywhere) and `write`. Below Landlock
   * ABI 3 (kernels 5.13-6.1) everything outside `write` is also mounted read-only in a mount
   * namespace of the child's, which is what denies truncate(2) there (EROFS).
   */
  filesystem?: { write: readonly string[]; read?: readonly string[] };
  /** seccomp-bpf: the versioned 'default' deny list, or your own names. */
  syscalls?: 'default' | SyscallDenyList;
  /** setsid(): implied (TIOCSTI defence); false is refused. */
  newSession?: boolean;
  /**
   * A mount namespace of its own with a fresh, empty tmpfs on /tmp, gone with the child;
   * writable even under `filesystem` write roots. A program or cwd under our /tmp is hidden
   * by it (ENOENT at exec or chdir).
   */
  privateTmp?: boolean;
  /**
   * A PID namespace of its own with a fresh /proc (in a mount namespace of its own): the
   * program runs as PID 2 under our init and sees only its own tree. `child.pid` is the init,
   * in our namespace; it forwards signals and reports the program's exact status. Everything
   * in the namespace dies when the init does.
   */
  pidNamespace?: boolean;
}

/**
 * The 'default' seccomp deny list, versioned: a new version only ever adds calls. Besides
 * these names the default filter denies ioctl TIOCSTI and TIOCLINUX (compared on the low 32
 * bits), clone with any CLONE_NEW* flag (EPERM), and clone3 (ENOSYS, so libc falls back to
 * clone, whose flags the filter can read). Every filter kills calls made through another ABI
 * (x32, i386, arm32) with SIGSYS.
 */
export const DEFAULT_SYSCALL_DENY = Object.freeze({
  version: 1,
  syscalls: Object.freeze([
    'ptrace',
    'process_vm_readv',
    'process_vm_writev',
    'mount',
    'umount2',
    'pivot_root',
    'move_mount',
    'open_tree',
    'fsopen',
    'fsconfig',
    'fsmount',
    'fspick',
    'mount_setattr',
    'unshare',
    'setns',
    'bpf',
    'perf_event_open',
    'keyctl',
    'add_key',
    'request_key',
    'userfaultfd',
    'io_uring_setup',
    'io_uring_enter',
    'io_uring_register',
    'init_module',
    'finit_module',
    'delete_module',
    'kexec_load',
    'kexec_file_load',
    'reboot',
    'swapon',
    'swapoff',
  ] as const),
});

const SANDBOX_KEYS: Record<keyof SandboxOptions, true> = {
  noNewPrivileges: true,
  network: true,
  filesystem: true,
  syscalls: true,
  newSession: true,
  privateTmp: true,
  pidNamespace: true,
};
const SANDBOX_KEY_SET: ReadonlySet<string> = new Set(Object.keys(SANDBOX_KEYS));
const NETWORK = { host: 0, none: 1, loopback: 2 } as const;

// The default list resolves the same every time: once, not on every spawn.
let defaultDeny: number[] | undefined;

function unsupported(field: string, why: string): ProcessError {
  return new ProcessError('Unsupported', `sandbox.${field}: ${why}`, {
    field: `sandbox.${field}`,
    code: 'ENOTSUP',
  });
}

function resolveSyscalls(value: unknown): NonNullable<NativeSandbox['seccomp']> {
  const arch = kernelSandbox().seccompArch;
  if (arch === '') {
    throw unsupported(
      'syscalls',
      `seccomp filters need Linux seccomp on x86_64 or aarch64 (this: ${process.platform} ${process.arch})`,
    );
  }
  if (value === 'default') {
    // A default name this architecture lacks cannot be called here at all.
    defaultDeny ??= DEFAULT_SYSCALL_DENY.syscalls
      .map((n) => native.syscallNumber(n))
      .filter((nr) => nr >= 0);
    return { deny: defaultDeny, ttyIoctls: true, namespaceClone: true };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('sandbox.syscalls', value, "must be 'default' or { deny: [names] }");
  }
  checkKnownKeys(value, new Set(['deny']), 'sandbox.syscalls option', 'sandbox.syscalls');
  const names: unknown = (value as SyscallDenyList).deny;
  if (!Array.isArray(names)) {
    throw invalid('sandbox.syscalls.deny', names, 'must be an array of syscall names');
  }
  const deny = Array.from(names, (n: unknown, i) => {
    const nr = typeof n === 'string' ? native.syscallNumber(n) : -1;
    if (nr < 0) {
      throw invalid(`sandbox.syscalls.deny[${i}]`, n, `is not a system call on ${arch}`);
    }
    return nr;
  });
  return { deny, ttyIoctls: false, namespaceClone: false };
}

/**
 * Validates `sandbox` and resolves it for the addon; undefined when no sandbox was asked for.
 * Throws InvalidCommand for bad input and Unsupported naming what this kernel lacks, before
 * any syscall that changes anything.
 *
 * @example
 * prepareSandbox({ network: 'none', syscalls: 'default' });
 * // { network: 1, seccomp: { deny: [101, 310, ...], ttyIoctls: true, namespaceClone: true } }
 */
export function prepareSandbox(value: unknown): NativeSandbox | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('sandbox', value, 'must be an object');
  }
  checkKnownKeys(value, SANDBOX_KEY_SET, 'sandbox option', 'sandbox');
  const o = value as SandboxOptions;
  for (const key of ['noNewPrivileges', 'newSession', 'privateTmp', 'pidNamespace'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') {
      throw invalid(`sandbox.${key}`, o[key], 'must be a boolean');
    }
  }
  if (o.noNewPrivileges === false) {
    throw invalid(
      'sandbox.noNewPrivileges',
      false,
      'cannot be turned off: every sandbox implies it',
    );
  }
  if (o.newSession === false) {
    throw invalid('sandbox.newSession', false, 'cannot be turned off: it is the TIOCSTI defence');
  }
  if (process.platform !== 'linux') {
    throw unsupported('', `a sandbox needs Linux (this: ${process.platform})`);
  }
  if (o.pidNamespace === true) {
    const why = pidNamespaceUnavailable();
    if (why !== null) throw unsupported('pidNamespace', why);
  }
  const out: NativeSandbox = {};
  if (o.privateTmp === true) out.privateTmp = true;
  if (o.network !== undefined) {
    if (typeof o.network !== 'string' || !Object.hasOwn(NETWORK, o.network)) {
      throw invalid('sandbox.network', o.network, "must be 'none', 'loopback' or 'host'");
    }
    out.network = NETWORK[o.network];
  }
  if (o.filesystem !== undefined) out.landlock = resolveFilesystem(o.filesystem);
  if (o.syscalls !== undefined) out.seccomp = resolveSyscalls(o.syscalls);
  return out;
}

const SANDBOX_STAGES: Record<string, string> = {
  privatetmp: 'cannot mount the private /tmp',
  mountreadonly: 'cannot mount everything but the write roots read-only',
  mountproc: 'cannot mount a fresh /proc for the PID namespace',
  userns: 'cannot map the child’s own ids in its user namespace',
  loopback: 'cannot bring lo up in the child’s network namespace',
  nonewprivs: 'cannot set no_new_privs',
  landlock: 'cannot apply the filesystem rules (Landlock)',
  seccomp: 'cannot install the syscall filter (seccomp)',
};

/** True when a failed spawn stopped at a sandbox step (parent- or child-side). */
export function isSandboxStage(stage: string): boolean {
  return Object.hasOwn(SANDBOX_STAGES, stage);
}

/**
 * A spawn refused at a sandbox step, or a clone refused because of the namespaces a sandbox
 * asked for: PermissionDenied or Unsupported naming the piece, never a silent fallback.
 *
 * @example
 * throw sandboxFailure('sh', { errno: 2, syscall: 'open', stage: 'landlock', path: '/nope' });
 */
export function sandboxFailure(program: string, e: NativeSpawnError): ProcessError {
  const code = errnoName(e.errno);
  let what = SANDBOX_STAGES[e.stage] ?? `stage ${e.stage}`;
  if (e.syscall === 'clone') what = 'cannot create the namespaces it asks for';
  if (e.stage === 'landlock' && e.path) what = `cannot add a Landlock rule for ${describe(e.path)}`;
  if (e.stage === 'mountreadonly' && e.path) {
    what = `cannot keep the write root ${describe(e.path)} writable over the read-only mounts`;
  }
  const denied = code === 'EPERM' || code === 'EACCES' || code === 'ENOSPC' || code === 'EUSERS';
  const hint =
    e.syscall === 'clone' || e.stage === 'userns'
      ? ': user namespaces are blocked or exhausted here (kernel.unprivileged_userns_clone, user.max_user_namespaces, or an LSM)'
      : '';
  const kind =
    code === 'ENOENT' || code === 'ENOTDIR'
      ? 'NotFound'
      : code === 'ENOSYS' || code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'EINVAL'
        ? 'Unsupported'
        : denied
          ? 'PermissionDenied'
          : 'SpawnFailed';
  return new ProcessError(kind, `spawn ${program}: sandbox: ${what}${hint} (${code})`, {
    code,
    errno: e.errno,
    syscall: e.syscall,
    stage: e.stage,
    path: e.path,
    field: 'sandbox',
  });
}
