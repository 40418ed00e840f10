/**
 * One spec, from spawn to result: its spawn options, its captured output, the cancel
 * escalation over its process group, and what its exit means (passed, failed and why).
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';
import type { SignalName } from '../process/signals.js';
import { describeStatus, type ExitStatus } from '../process/status.js';
import { OutputTail } from './output.js';
import type { PipelineSpec, SpecResult } from './spec.js';

/**
 * How long output may keep arriving after the spec's process exited. A background
 * grandchild that inherited the pipes (`sh -c 'daemon &'`) would otherwise hold the
 * pipeline until it exits; what a finished process wrote is in the pipe already, and
 * reading that takes milliseconds.
 */
const DRAIN_MS = 500;
const DEFAULT_KILL_GRACE = 2000;

/** What a spec hands the spawner: its spawn options, with stdio, group and signal the runner's. */
export type SpecSpawnOptions = SpawnOptions & {
  processGroup: true;
  stdin: 'null';
  stdout: 'pipe';
  stderr: 'pipe';
};

/**
 * The spawn options a spec runs with: its own, minus the runner's fields, with stdin from
 * /dev/null, stdout and stderr piped and a process group of its own, so that a timeout or a
 * cancel reaches everything it started.
 * @example
 * spawnOptionsFor({ name: 'lint', command: 'npx', args: ['biome', 'check'], after: ['build'] });
 * // { program: 'npx', args: ['biome', 'check'], processGroup: true, stdin: 'null', ... }
 */
export function spawnOptionsFor(spec: PipelineSpec): SpecSpawnOptions {
  // Callers from JSON (the process.pipeline action) may carry the fields a spec must not set;
  // they are dropped here rather than trusted.
  const {
    name: _name,
    command,
    args,
    after: _after,
    allowFailure: _allowFailure,
    program: _program,
    signal: _signal,
    stdin: _stdin,
    stdout: _stdout,
    stderr: _stderr,
    ...rest
  } = spec as PipelineSpec & Partial<SpawnOptions>;
  return {
    ...rest,
    program: command,
    args: args ?? [],
    processGroup: true,
    stdin: 'null',
    stdout: 'pipe',
    stderr: 'pipe',
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function ended(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    // Also keeps a read error from being an uncaught 'error' event: output is best effort.
    stream.on('error', () => resolve());
  });
}

/**
 * A spec whose process is running, until `done` settles with its result.
 * @example
 * const launch = launchSpec({ name: 'slow', command: 'sleep', args: ['30'] }, spawn, 1 << 20);
 * if ('running' in launch) {
 *   launch.running.cancel();
 *   (await launch.running.done).error; // 'cancelled while running (killed by SIGTERM)'
 * }
 */
export class SpecExecution {
  readonly handle: ProcessHandle;
  /** Settles once with the result, after the process exited and its output was read; never rejects. */
  readonly done: Promise<SpecResult>;

  #spec: PipelineSpec;
  #startedAt: number;
  #tail: OutputTail;
  #streams: Readable[];
  #outputEnded = false;
  #finished = false;
  #cancelled = false;
  #outputError: string | undefined;
  #escalation: { timer: NodeJS.Timeout; over: Promise<void>; end: () => void } | null = null;

  /** @internal Use launchSpec(). */
  constructor(spec: PipelineSpec, handle: ProcessHandle, startedAt: number, maxOutput: number) {
    this.#spec = spec;
    this.handle = handle;
    this.#startedAt = startedAt;
    this.#tail = new OutputTail(maxOutput);
    // One tail for both streams: arrival order across them is the order this loop saw data.
    this.#streams = [];
    for (const which of ['stdout', 'stderr'] as const) {
      try {
        const s = handle[which];
        if (s !== null) this.#streams.push(s);
      } catch (e) {
        // The process runs whether or not we can read it (EMFILE making the reader): it must
        // still be waited for, so a lost stream is reported, not thrown.
        this.#outputError = `${which} not captured: ${message(e)}`;
      }
    }
    for (const s of this.#streams) {
      s.on('data', (chunk: Buffer | string) =>
        this.#tail.append(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
      );
    }
    const output = Promise.all(this.#streams.map(ended)).then(() => {
      this.#outputEnded = true;
    });
    this.done = this.#finish(output);
  }

  /** True when the process was still running when cancel() was called. */
  get cancelled(): boolean {
    return this.#cancelled;
  }

  /**
   * Signals the spec's group with its killSignal (SIGTERM by default), then SIGKILL after its
   * killGrace (2000 ms by default) unless the process exited and its output closed by then.
   * @example
   * execution.cancel();
   * const result = await execution.done; // failed, error 'cancelled while running (...)'
   */
  cancel(): void {
    if (this.#finished || this.#escalation !== null) return;
    if (this.handle.running) this.#cancelled = true;
    this.#signalGroup(this.#spec.killSignal ?? 'SIGTERM');
    const grace = this.#spec.killGrace;
    const ms =
      typeof grace === 'number' && Number.isFinite(grace) && grace >= 0
        ? grace
        : DEFAULT_KILL_GRACE;
    let end!: () => void;
    const over = new Promise<void>((resolve) => {
      end = resolve;
    });
    const timer = setTimeout(() => {
      // Output still open after the leader exited means a group member holds the pipe: the
      // group is alive, so its id cannot have been reused.
      if (!this.#finished && (this.handle.running || !this.#outputEnded)) {
        this.#signalGroup('SIGKILL');
      }
      end();
    }, ms);
    this.#escalation = { timer, over, end };
  }

  #signalGroup(signal: SignalName): void {
    try {
      // killTree: the spec's cgroup when it runs with containment 'cgroup', else its group.
      this.handle.killTree(signal);
    } catch {
      // An injected spawner may have ignored processGroup (killGroup refuses then); the
      // leader is the most we can reach. A leader already reaped just returns false.
      try {
        this.handle.kill(signal);
      } catch {
        // Nothing left we are allowed to signal: the exit watcher still settles the spec.
      }
    }
  }

  async #finish(output: Promise<void>): Promise<SpecResult> {
    const status = await this.handle.exited;
    await this.#drain(output);
    // After a kill, a member that outlived its leader was sent SIGKILL, which the kernel
    // delivers on its own time: the spec is done once its tree is empty (bounded, for a
    // member stuck in D state). Without a kill, a background job may rightly live on.
    if (this.#escalation !== null) {
      for (let i = 0; i < 250 && this.handle.treeAlive(); i++) await sleep(20);
    }
    for (const s of this.#streams) if (!s.readableEnded) s.destroy();
    this.#finished = true;
    if (this.#escalation !== null) {
      clearTimeout(this.#escalation.timer);
      this.#escalation.end();
    }
    return this.#result(status);
  }

  // Waits for EOF on the pipes, at most DRAIN_MS after exit; while a cancel escalation is
  // under way the bound extends to DRAIN_MS after its SIGKILL, which is what frees the pipes.
  async #drain(output: Promise<void>): Promise<void> {
    const stop = new AbortController();
    const bound = (async () => {
      await sleep(DRAIN_MS, undefined, { signal: stop.signal });
      const escalation = this.#escalation;
      if (escalation !== null) {
        await escalation.over;
        await sleep(DRAIN_MS, undefined, { signal: stop.signal });
      }
    })().catch(() => {
      // Aborted because the output ended first.
    });
    await Promise.race([output, bound]);
    stop.abort();
  }

  #result(status: ExitStatus): SpecResult {
    const result: SpecResult = {
      name: this.#spec.name,
      status: 'failed',
      exitStatus: status,
      durationMs: performance.now() - this.#startedAt,
      output: this.#tail.text(),
    };
    // A timed-out or cancelled spec failed even if it caught the signal and exited 0.
    if (this.handle.timedOut) {
      result.error = `timed out after ${this.#spec.timeout} ms (${describeStatus(status)})`;
    } else if (this.#cancelled) {
      result.error = `cancelled while running (${describeStatus(status)})`;
    } else if (status.code === 0) {
      result.status = 'passed';
    }
    if (this.#outputError !== undefined) {
      result.error =
        result.error === undefined ? this.#outputError : `${result.error}; ${this.#outputError}`;
    }
    return result;
  }
}

export type Launch = { running: SpecExecution } | { failed: SpecResult };

/**
 * Starts a spec through `start`. A throw (bad spawn options, program not found, a policy
 * refusal from an injected spawner) is not an error of the pipeline: it is that spec failing.
 * @example
 * const launch = launchSpec({ name: 'a', command: 'true' }, spawn, 1 << 20);
 * const result = 'running' in launch ? await launch.running.done : launch.failed;
 */
export function launchSpec(
  spec: PipelineSpec,
  start: (options: SpawnOptions) => ProcessHandle,
  maxOutput: number,
): Launch {
  const startedAt = performance.now();
  let handle: ProcessHandle;
  try {
    handle = start(spawnOptionsFor(spec));
  } catch (e) {
    return {
      failed: {
        name: spec.name,
        status: 'failed',
        exitStatus: null,
        durationMs: performance.now() - startedAt,
        output: '',
        error: message(e),
      },
    };
  }
  return { running: new SpecExecution(spec, handle, startedAt, maxOutput) };
}
