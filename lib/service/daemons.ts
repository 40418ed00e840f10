/**
 * The daemon.* actions of the process service: supervised children started through the
 * service's own spawner (so the policy and the audit trail apply to every restart), with
 * their daemon.* events on the bus and in the audit trail.
 */
import { z } from 'zod';
import type { ActionContext } from '../core/action.js';
import type { Core } from '../core/core.js';
import { outputSchema } from '../core/output-schema.js';
import { type ProbeVerdict, probe } from '../daemon/probe.js';
import {
  type DaemonTopic,
  type SuperviseOptions,
  type Supervisor,
  type SupervisorStatus,
  supervise,
} from '../daemon/supervisor.js';
import { ProcessError } from '../errors.js';
import type { ProcessHandle } from '../process/handle.js';
import type { SpawnOptions } from '../process/options.js';

const healthSchema = z.union([
  z.looseObject({ http: z.string().url() }),
  z.looseObject({ tcp: z.string().min(3) }),
  z.looseObject({ exec: z.array(z.string()).min(1) }),
]);

/**
 * Input of `daemon.start`: a name, the command, supervision settings and any spawn option.
 *
 * @example
 * daemonStartInputSchema.parse({ name: 'web', command: 'node', args: ['server.js'] });
 */
export const daemonStartInputSchema = z.looseObject({
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  restart: z
    .object({
      policy: z.enum(['never', 'on-failure', 'always']).optional(),
      maxRestarts: z.number().int().nonnegative().optional(),
      windowMs: z.number().positive().optional(),
      backoff: z
        .object({
          initialMs: z.number().nonnegative().optional(),
          factor: z.number().min(1).optional(),
          maxMs: z.number().nonnegative().optional(),
        })
        .optional(),
      jitter: z.number().min(0).max(1).optional(),
    })
    .optional(),
  health: healthSchema.optional(),
  stopSignal: z.string().optional(),
  stopGraceMs: z.number().nonnegative().optional(),
});
const nameInput = z.object({ name: z.string().min(1) });

/**
 * Value of daemon.start, daemon.stop and daemon.get (daemon.list: an array of them).
 *
 * @example
 * supervisorStatusSchema.parse(supervisor.status());
 */
export const supervisorStatusSchema = outputSchema<SupervisorStatus>()(
  z.object({
    name: z.string(),
    state: z.enum(['starting', 'running', 'backoff', 'stopping', 'stopped', 'gave-up']),
    pid: z.int().positive().nullable(),
    restarts: z.int().nonnegative().describe('restarts so far, not counting the first start'),
    healthy: z.boolean().nullable().describe('last probe verdict; null before any probe'),
    consecutiveHealthFailures: z.int().nonnegative(),
    lastExit: z
      .object({
        code: z.int().nullable(),
        signal: z.string().nullable(),
        durationMs: z.number().nonnegative(),
      })
      .nullable(),
    reason: z.string().nullable().describe('why it gave up, or why the last start failed'),
  }),
);
const probeVerdictSchema = outputSchema<ProbeVerdict>()(
  z.object({ ok: z.boolean(), error: z.string().optional() }),
);
const daemonHealthValue = z.object({
  name: z.string(),
  probe: probeVerdictSchema.nullable().describe('null when the daemon has no health probe'),
  status: supervisorStatusSchema,
});

export interface DaemonActionHost {
  readonly daemons: Map<string, Supervisor>;
  /** The service's policy-checked, managed, audited spawner. */
  start(options: SpawnOptions, ctx: ActionContext): ProcessHandle;
  /** daemon.* events: to the bus and the audit trail. */
  emit(topic: DaemonTopic, payload: Record<string, unknown>): void;
}

function notFound(name: string): ProcessError {
  return new ProcessError('NotFound', `daemon ${name}: no such supervised daemon`, {
    code: 'ESRCH',
  });
}

/**
 * Registers daemon.start, daemon.stop, daemon.list, daemon.get and daemon.health.
 *
 * @example
 * registerDaemonActions(core, { daemons: new Map(), start: spawnVia(core), emit: publish });
 * await core.action('daemon.start').run({ name: 'web', command: 'node', args: ['server.js'] });
 */
export function registerDaemonActions(core: Core, host: DaemonActionHost): void {
  core.action(
    'daemon.start',
    (input: z.infer<typeof daemonStartInputSchema>, ctx): SupervisorStatus => {
      const existing = host.daemons.get(input.name);
      if (existing !== undefined && !['stopped', 'gave-up'].includes(existing.status().state)) {
        throw new ProcessError(
          'InvalidCommand',
          `daemon ${input.name}: already supervised (pid ${existing.status().pid})`,
          {
            field: 'name',
            code: 'EEXIST',
          },
        );
      }
      const s = supervise({
        ...(input as unknown as SuperviseOptions),
        onEvent: (topic, payload) => host.emit(topic, payload),
        start: (options) => host.start(options, ctx),
      });
      host.daemons.set(input.name, s);
      return s.status();
    },
    {
      description: 'Start a supervised daemon (restart policy, backoff, health probe)',
      schema: daemonStartInputSchema,
      output: supervisorStatusSchema,
    },
  );

  core.action(
    'daemon.stop',
    async (input: z.infer<typeof nameInput>): Promise<SupervisorStatus> => {
      const s = host.daemons.get(input.name);
      if (!s) throw notFound(input.name);
      return s.stop();
    },
    {
      description: 'Stop a supervised daemon and its whole group',
      schema: nameInput,
      output: supervisorStatusSchema,
    },
  );

  core.action(
    'daemon.list',
    (): SupervisorStatus[] => [...host.daemons.values()].map((s) => s.status()),
    {
      description: 'Status of every supervised daemon',
      output: z.array(supervisorStatusSchema),
    },
  );

  core.action(
    'daemon.get',
    (input: z.infer<typeof nameInput>): SupervisorStatus => {
      const s = host.daemons.get(input.name);
      if (!s) throw notFound(input.name);
      return s.status();
    },
    {
      description: 'Status of one supervised daemon',
      schema: nameInput,
      output: supervisorStatusSchema,
    },
  );

  core.action(
    'daemon.health',
    async (input: z.infer<typeof nameInput>, ctx) => {
      const s = host.daemons.get(input.name);
      if (!s) throw notFound(input.name);
      const health = s.health;
      if (health === undefined) return { name: input.name, probe: null, status: s.status() };
      const verdict = await probe(health, (o) => host.start(o, ctx));
      return { name: input.name, probe: verdict, status: s.status() };
    },
    { description: 'Probe a supervised daemon now', schema: nameInput, output: daemonHealthValue },
  );
}
