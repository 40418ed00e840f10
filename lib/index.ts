/**
 * @core/process: the public surface. Every public name is exported here and only here.
 */

export { METRIC_TOPICS, ProcessMetrics } from './api/metrics.js';
export type { MetricsServer, MetricsServerOptions } from './api/metrics-server.js';
export { serveMetrics } from './api/metrics-server.js';
export { httpStreams } from './api/remote.js';
export type { ApiServer, ServeOptions } from './api/server.js';
export { serve } from './api/server.js';
// The drop-in node:child_process facade; also its own entry point, '@core/process/child_process'.
export * as childProcess from './child_process/index.js';
export type {
  ActionContext,
  ActionDef,
  ActionHandler,
  ActionOptions,
  ActionRunOptions,
  ActionStats,
  ActionStep,
  CoreErrorDetails,
  CoreErrorKind,
  CoreEvent,
  CoreLogger,
  CoreOptions,
  CoreState,
  CoreStats,
  EntitlementChecker,
  EntitlementContext,
  EntitlementDecision,
  EventBusOptions,
  EventBusStats,
  EventHandler,
  IfStep,
  PanicPayload,
  ParallelStep,
  ProcessCallOptions,
  ProcessInfo,
  ProcessRunInput,
  ProcessStartInput,
  ProcessStartValue,
  RegistrySetOptions,
  ScheduleSpec,
  Service,
  StepCondition,
  StopReport,
  StreamOptions,
  SubscribeOptions,
  SubscriberStats,
  TaskDef,
  TaskInfo,
  TaskOptions,
  TaskRun,
  TaskRunOptions,
  TaskStep,
  TaskStepRecord,
} from './core/index.js';
export {
  Action,
  allowAll,
  attempt,
  Core,
  CoreError,
  consoleLogger,
  Entitlement,
  EventBus,
  fail,
  ID,
  isFail,
  isOk,
  isResult,
  ManagedProcessHandle,
  ok,
  outputSchema,
  ProcessApi,
  processRunInputSchema,
  processStartInputSchema,
  Registry,
  silentLogger,
  Task,
  unwrap,
  valueOr,
} from './core/index.js';
export type {
  DaemonEntry,
  DaemonOptions,
  DaemonRegistryOptions,
  DaemonState,
  HealthAddress,
  HealthCheck,
  HealthCheckResult,
  HealthReport,
  HealthServerOptions,
  PidFileErrorKind,
  PidRecord,
  RegistryProblem,
  WaitForHealthOptions,
} from './daemon/index.js';
export {
  Daemon,
  DaemonRegistry,
  defaultRegistryDir,
  HealthServer,
  PidFile,
  PidFileError,
  processStartTime,
  waitForHealth,
} from './daemon/index.js';
export { SystemdNotifier } from './daemon/notify.js';
export type { HealthProbe, ProbeVerdict } from './daemon/probe.js';
export type {
  DaemonTopic,
  RestartOptions,
  RestartPolicyName,
  SuperviseOptions,
  SupervisorState,
  SupervisorStatus,
  Timers,
} from './daemon/supervisor.js';
export { Supervisor, supervise } from './daemon/supervisor.js';
export type { ProcessErrorDetails, ProcessErrorKind } from './errors.js';
export { ProcessError } from './errors.js';
export type {
  Actor,
  ActorKind,
  Artifact,
  CreateEventOptions,
  DispatchOptions,
  DispatchResult,
  EventEnvelope,
  ExecOptions,
  Subscriber,
  SubscriberFailure,
} from './events/index.js';
export {
  createEvent,
  DEFAULT_EVENTS_PATH,
  dispatch,
  dispatchExitCode,
  EnvelopeValidationError,
  EventConfigError,
  Exec,
  ExecExitError,
  ExecTimeoutError,
  JsonlWriter,
  loadSubscribers,
  NoOp,
  validate,
} from './events/index.js';
export type { AdoptOptions } from './process/adopt.js';
export { adoptProcess } from './process/adopt.js';
export type { Backend } from './process/backend.js';
export { backend } from './process/backend.js';
export type { WaitOptions } from './process/handle.js';
export { ProcessHandle } from './process/handle.js';
export type { OnreadOptions, OnreadReader, OnreadSpec } from './process/onread.js';
export type { Containment, SpawnOptions, StdioSpec } from './process/options.js';
export type { OrphanCgroup } from './process/orphans.js';
export { describeOrphans, reapOrphanCgroups } from './process/orphans.js';
export type { ChildOutput } from './process/pipe-reader.js';
export type { PipeDestination, PipeToOptions, PipeToResult } from './process/pipe-to.js';
export type {
  PipelineOptions,
  PipelineRun,
  PipeMember,
  PipeMemberResult,
} from './process/pipeline.js';
export { pipeline } from './process/pipeline.js';
export type { RunOptions, RunResult } from './process/run.js';
export { run } from './process/run.js';
export {
  DEFAULT_SYSCALL_DENY,
  type FilesystemMechanism,
  LANDLOCK_ABI_ENV,
  LANDLOCK_MIN_ABI,
  type SandboxEnforcement,
  type SandboxOptions,
  type SyscallDenyList,
} from './process/sandbox.js';
export type { SignalName } from './process/signals.js';
export { spawn } from './process/spawn.js';
export type { ExitStatus, LimitsHit, ResourceUsage } from './process/status.js';
export { enableSubreaper, subreaperStats } from './process/subreaper.js';
export type { Result } from './result.js';
export type { PipelineErrorKind } from './runner/errors.js';
export { PipelineError } from './runner/errors.js';
export { runAll, runParallel, runSequential } from './runner/run.js';
export type {
  PipelineResult,
  PipelineSpec,
  ProgressEvent,
  RunnerOptions,
  SpecResult,
  SpecStatus,
} from './runner/spec.js';
export { getAffinity, setAffinity } from './sched/affinity.js';
export { cpuCount, onlineCpus } from './sched/cpus.js';
export type { DeadlineSpec } from './sched/deadline.js';
export type { CpuLatencyHold } from './sched/latency.js';
export { cpuLatencyInForce, holdCpuLatency } from './sched/latency.js';
export type { LockMemoryOptions, MemoryLockInfo } from './sched/memory.js';
export { lockMemory, memoryLocked, unlockMemory } from './sched/memory.js';
export type { ThreadPriority } from './sched/priority.js';
export type { RlimitName, RlimitPair, Rlimits, RlimitValue } from './sched/rlimits.js';
export { getRlimit, setRlimit } from './sched/rlimits.js';
export type { CheckStatus, RtCheckItem, RtCheckReport } from './sched/rt-check.js';
export { rtCheck } from './sched/rt-check.js';
export type { SchedPolicy, SchedulerInfo, SchedulerSpec } from './sched/scheduler.js';
export {
  getNice,
  getScheduler,
  REALTIME_PRIORITY,
  setNice,
  setScheduler,
} from './sched/scheduler.js';
export type { CpuShield, ShieldOptions, ShieldProblem, ShieldScope } from './sched/shield.js';
export { recoverShields, shieldCpus } from './sched/shield.js';
export type { ThreadsOption } from './sched/target.js';
export type { AuditRecordOptions, AuditStats } from './service/audit.js';
export { AuditTrail } from './service/audit.js';
export type { CapturedOutput, ManagedStatus, ProcessSnapshot } from './service/managed.js';
export type { PipelineInput } from './service/pipeline.js';
export { pipelineInputSchema } from './service/pipeline.js';
export type { AllowRule, PolicyProblem, PolicyReport, ProcessPolicy } from './service/policy.js';
export { compilePolicy, PolicyGate, verifyPolicy } from './service/policy.js';
export type { ProcessService, ProcessServiceOptions } from './service/service.js';
export { processService } from './service/service.js';
export type { Command, Environment, ProcessCapability } from './thread/capability.js';
export { processCapability } from './thread/capability.js';
export { monotonicNs, sleepUntil } from './thread/clock.js';
export { setThreadAffinity, setThreadPriority } from './thread/control.js';
export type { ThreadContext, ThreadOptions } from './thread/create.js';
export { createThread } from './thread/create.js';
export type { CurrentThread, ThreadPriorityInfo } from './thread/current.js';
export { currentThread } from './thread/current.js';
export type { ThreadErrorDetails, ThreadErrorKind } from './thread/errors.js';
export { ThreadError } from './thread/errors.js';
export type { ThreadResult } from './thread/handle.js';
export { ThreadHandle } from './thread/handle.js';
export type { JoinOptions } from './thread/join.js';
export { joinThread } from './thread/join.js';
export type { PeriodicOptions } from './thread/periodic.js';
export { Periodic, periodic } from './thread/periodic.js';
