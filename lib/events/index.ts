/** The events layer: envelope, validation, fan-out dispatch, subscribers and their config. */
export { DEFAULT_EVENTS_PATH, EventConfigError, loadSubscribers } from './config.js';
export type { DispatchOptions, DispatchResult, SubscriberFailure } from './dispatch.js';
export { dispatch, dispatchExitCode } from './dispatch.js';
export type { Actor, ActorKind, Artifact, CreateEventOptions, EventEnvelope } from './envelope.js';
export { createEvent } from './envelope.js';
export type { ExecOptions } from './exec.js';
export { Exec, ExecExitError, ExecTimeoutError } from './exec.js';
export { JsonlWriter } from './jsonl.js';
export { NoOp } from './noop.js';
export type { Subscriber } from './subscriber.js';
export { EnvelopeValidationError, validate } from './validate.js';
