/**
 * The one typed boundary to the C++ addon. Nothing else imports the `.node` file.
 *
 * The addon is loaded with node-gyp-build: `prebuilds/<platform>-<arch>/` when present,
 * else `build/Release/`. `CORE_PROCESS_ADDON` names an explicit file instead, which is how
 * the sanitizer build (`npm run test:asan`) runs the same suite against an instrumented addon.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** 0 inherit, 1 null, 2 pipe, 3 socketpair, or a descriptor / file to connect. */
export type NativeStdio = 0 | 1 | 2 | 3 | { fd: number } | { file: string; append: boolean };

export interface NativeSpawnRequest {
  file: string;
  searchPath: string;
  argv: string[];
  /** Absent: the child gets this process's environ as it is now. */
  env?: string[];
  cwd?: string;
  stdio: [NativeStdio, NativeStdio, NativeStdio];
  /** -1 keep ours, 0 new group led by the child, >0 join that group. */
  pgid: number;
  setsid: boolean;
  forceClone: boolean;
}

/** What a failed spawn reports: the real errno and the step that failed. */
export interface NativeSpawnError {
  errno: number;
  syscall: string;
  stage: string;
  path?: string;
}

/**
 * [code (-1 when signalled), signal number (0 when exited), coreDumped, durationMs,
 *  userCpuMs, systemCpuMs, maxRssKb, minorFaults, majorFaults, voluntaryCtxSwitches,
 *  involuntaryCtxSwitches, lost]
 */
export type NativeStatus = [
  number,
  number,
  boolean,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  number,
  boolean,
];

export interface NativeChild {
  readonly pid: number;
  /** Our end of each piped stream, -1 elsewhere. JS owns these descriptors. */
  readonly fds: [number, number, number];
  readonly spawnMethod: 'posix_spawn' | 'clone';
  /** 1 delivered, 0 the child is gone, or -errno. */
  kill(signal: number): number;
  killGroup(signal: number, pgid: number): number;
  /** The status, null on timeout, or -errno. timeoutMs -1 waits forever. */
  waitSync(timeoutMs: number): NativeStatus | null | number;
  ref(): void;
  unref(): void;
}

export interface NativeBinding {
  spawn(
    request: NativeSpawnRequest,
    onExit: (status: NativeStatus) => void,
  ): NativeChild | NativeSpawnError;
  backend(): { exit: 'pidfd' | 'sigchld'; spawn: 'auto' | 'clone' };
  getpgid(pid?: number): number;
  /** Blocks (true) or unblocks signals on the calling thread; 0 or -errno. Test support. */
  threadSignalMask(block: boolean, signals: number[]): number;
  timerStart(ms: number, callback: () => void): number;
  /** Takes ownership of fd; onData gets the chunks of one wake-up, EOF, and an errno. */
  readerStart(fd: number, onData: (chunks: Buffer[], eof: boolean, errno: number) => void): number;
  readerPause(id: number): void;
  readerResume(id: number): void;
  readerRef(id: number, on: boolean): void;
  readerClose(id: number): void;
  timerCancel(id: number): boolean;
}

function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  const explicit = process.env.CORE_PROCESS_ADDON;
  // A path, never a module name: relative to the working directory, as a user would mean it.
  if (explicit) return require(path.resolve(explicit)) as NativeBinding;
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  return nodeGypBuild(fileURLToPath(new URL('..', import.meta.url))) as NativeBinding;
}

export const native: NativeBinding = load();

export function isSpawnError(v: NativeChild | NativeSpawnError): v is NativeSpawnError {
  return typeof (v as NativeSpawnError).errno === 'number';
}
