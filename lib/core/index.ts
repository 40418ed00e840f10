/**
 * lib/core: the Core container (actions, tasks, entitlements, services, events). Pure
 * TypeScript: nothing here loads the native addon, so a Core can be built and tested anywhere.
 */

export type {
  ActionContext,
  ActionDef,
  ActionHandler,
  ActionOptions,
  ActionRunOptions,
  ActionStats,
  AsyncRun,
} from './action.js';
export { Action } from './action.js';
export type { RemoteCallOptions, Stream, StreamFactory, StreamIo } from './api.js';
export { Api } from './api.js';
export type { CoreOptions, CoreState, CoreStats, TaskOptions } from './core.js';
export { Core } from './core.js';
export type { DriveHandle, DriveOptions } from './drive.js';
export { Drive } from './drive.js';
export type { EntitlementChecker, EntitlementContext, EntitlementDecision } from './entitlement.js';
export { allowAll, Entitlement } from './entitlement.js';
export type { CoreErrorDetails, CoreErrorKind } from './errors.js';
export { CoreError } from './errors.js';
export type {
  CoreEvent,
  EventBusOptions,
  EventBusStats,
  EventHandler,
  PanicPayload,
  StreamOptions,
  SubscribeOptions,
  SubscriberStats,
} from './events.js';
export { EventBus } from './events.js';
export { ID } from './id.js';
export type { CoreLogger } from './logger.js';
export { consoleLogger, silentLogger } from './logger.js';
export { outputSchema } from './output-schema.js';
// Named apart from lib/process's ProcessHandle (a spawned child): this one is seed 001 §17.5's,
// a handle on a process the process service manages, reached through actions.
export type { ProcessInfo } from './process-handle.js';
export { ProcessHandle as ManagedProcessHandle } from './process-handle.js';
export type {
  ProcessCallOptions,
  ProcessRunInput,
  ProcessStartInput,
  ProcessStartValue,
} from './process-sugar.js';
export { ProcessApi, processRunInputSchema, processStartInputSchema } from './process-sugar.js';
export type { RegistrySetOptions } from './registry.js';
export { Registry } from './registry.js';
export type { Result } from './result.js';
export { attempt, fail, isFail, isOk, isResult, ok, unwrap, valueOr } from './result.js';
export type { ScheduleSpec, TaskInfo } from './schedule.js';
export type { Service, StopReport } from './service.js';
export type {
  ActionStep,
  IfStep,
  ParallelStep,
  StepCondition,
  TaskDef,
  TaskRun,
  TaskRunOptions,
  TaskStep,
  TaskStepRecord,
} from './task.js';
export { Task } from './task.js';
