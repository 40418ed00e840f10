/** spawn(): validate, call the addon once, wrap the child in a ProcessHandle. */
import path from 'node:path';
import { isSpawnError, native } from '../native.js';
import { isChildSetupStage, spawnSetupFailure } from '../sched/errors.js';
import type { ChildCgroup } from './cgroup.js';
import { spawnError } from './errors.js';
import { ProcessHandle } from './handle.js';
import { prepareSpawn, type SpawnOptions } from './options.js';
import { isSandboxStage, sandboxFailure } from './sandbox.js';
import { subreaperEnabled, trackTree, untrackChild } from './subreaper.js';

/**
 * Starts a child process. Fails synchronously with a ProcessError carrying the real errno
 * (ENOENT, EACCES, ENOEXEC...) and the failing stage, never with a later 'error' event.
 * @example
 * const child = spawn({ program: 'sleep', args: ['5'], stdout: 'pipe', timeout: 1000 });
 * const status = await child.exited; // { code: null, signal: 'SIGTERM', ... }
 */
export function spawn(options: SpawnOptions): ProcessHandle {
  return spawnChild(options);
}

/**
 * spawn(), with the internal choice pipeline() needs: `lineCgroup` is an existing cgroup the
 * child joins (the whole line's), which stays open and in place for the next member. Not
 * exported from the package: the public way to it is pipeline({ containment: 'cgroup' }).
 * @example
 * const cg = createChildCgroup();
 * const a = spawnChild({ program: 'sleep', args: ['1'], processGroup: true }, cg ?? undefined);
 */
export function spawnChild(options: SpawnOptions, lineCgroup?: ChildCgroup): ProcessHandle {
  const prepared = prepareSpawn(options, lineCgroup);
  const ownCgroup = prepared.cgroupShared === true ? null : prepared.cgroup;
  let handle: ProcessHandle | undefined;
  // The exit callback only ever runs from the event loop, after `handle` is assigned below.
  const result = native.spawn(prepared.request, (status) => handle?._onExit(status));
  // The child has joined its cgroup (or failed) by now: our directory fd is done.
  ownCgroup?.releaseFd();
  prepared.limits?.releaseFds();
  if (isSpawnError(result)) {
    ownCgroup?.remove();
    prepared.limits?.remove();
    if (
      isSandboxStage(result.stage) ||
      (prepared.request.sandbox?.network !== undefined && result.syscall === 'clone')
    ) {
      throw sandboxFailure(prepared.command, result);
    }
    throw isChildSetupStage(result.stage)
      ? spawnSetupFailure(prepared.command, result, prepared.request)
      : spawnError(prepared.command, result);
  }
  handle = new ProcessHandle(result, prepared, options.signal);
  if (subreaperEnabled()) {
    const pid = handle.pid;
    trackTree(
      pid,
      prepared.ownGroup ? pid : null,
      prepared.cgroup === null ? null : path.basename(prepared.cgroup.path),
    );
    void handle.exited.then(() => untrackChild(pid));
  }
  return handle;
}
