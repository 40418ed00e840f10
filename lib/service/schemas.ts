/**
 * Zod schemas of the values the process.* actions return: the contract the OpenAPI document
 * publishes for them. Each is checked against the TypeScript type it describes
 * (outputSchema), so the document cannot promise a field the code does not send.
 */
import { z } from 'zod';
import { outputSchema } from '../core/output-schema.js';
import type { ExitStatus, ResourceUsage } from '../process/status.js';
import type { CapturedOutput, ManagedStatus, ProcessSnapshot } from './managed.js';

const count = z.number().nonnegative();

/** @example resourceUsageSchema.parse(status.rusage); */
export const resourceUsageSchema = outputSchema<ResourceUsage>()(
  z.object({
    userCpuMs: count,
    systemCpuMs: count,
    maxRssKb: count,
    minorFaults: count,
    majorFaults: count,
    voluntaryCtxSwitches: count,
    involuntaryCtxSwitches: count,
  }),
);

/** @example exitStatusSchema.parse(await child.exited); */
export const exitStatusSchema = outputSchema<ExitStatus>()(
  z.object({
    pid: z.int().positive(),
    code: z.int().nullable().describe('exit code; null when a signal ended the child'),
    signal: z.string().nullable().describe('terminating signal name (SIGTERM)'),
    coreDumped: z.boolean(),
    durationMs: count,
    rusage: resourceUsageSchema,
    lost: z.boolean().optional().describe('reaped by another waiter; code and signal unknown'),
    oomKilled: z
      .boolean()
      .optional()
      .describe('with limits.memoryBytes: the OOM killer killed in the child’s cgroup'),
    limitsHit: z
      .object({ pids: count, cpuThrottledUs: count })
      .optional()
      .describe('with limits: forks refused at limits.pids, microseconds throttled by limits.cpu'),
  }),
);

const managedStatus = outputSchema<ManagedStatus>()(
  z.enum(['pending', 'running', 'exited', 'failed', 'killed']),
);

/** What process.get, process.list and process.wait say of a managed process. */
export const processSnapshotSchema = outputSchema<ProcessSnapshot>()(
  z.object({
    id: z.string(),
    pid: z.int().positive().nullable(),
    pgid: z.int().positive().nullable(),
    command: z.string(),
    args: z.array(z.string()),
    cwd: z.string(),
    status: managedStatus,
    exitCode: z.int().nullable(),
    signal: z.string().nullable(),
    startedAt: z.string().describe('ISO 8601'),
    durationMs: count.nullable(),
    rusage: resourceUsageSchema.nullable(),
    error: z.string().optional().describe('why the spawn failed, for status failed'),
  }),
);

/** process.output. */
export const capturedOutputSchema = outputSchema<CapturedOutput>()(
  z.object({
    stdout: z.string(),
    stderr: z.string(),
    dropped: z
      .object({ stdout: count, stderr: count })
      .describe('bytes the ring buffers dropped from the front'),
  }),
);

/**
 * process.run: the combined output as text (seed 000 §3), or `{ stdout, stderr }` when asked
 * with `output: 'separate'`.
 */
export const processRunValueSchema = z.union([
  z.string().describe('stdout and stderr together, in the order the child wrote them'),
  z.object({ stdout: z.string(), stderr: z.string() }),
]);

/** process.start and process.input: the managed process's id. */
export const processIdValueSchema = z.object({ id: z.string() });

/** process.start: the managed process's id and its pid. */
export const processStartValueSchema = z.object({
  id: z.string(),
  pid: z.int().positive().nullable(),
});

/** process.kill: false when nothing was left to signal. */
export const processKillValueSchema = z.object({ id: z.string(), sent: z.boolean() });
