/**
 * The event envelope: the one shape every subscriber receives, whatever the event is about.
 * Field names and meanings follow the cross-repo event contract so a JSONL line written here
 * reads the same as one written by any other implementation of it.
 */
import { ID } from '../core/id.js';

/** Who caused the event. */
export type ActorKind = 'user' | 'service' | 'system' | 'agent';

export interface Actor {
  kind: ActorKind;
  id: string;
}

/** What the event is about: `type` is a lowercase kebab name (`process`), `id` its identity. */
export interface Artifact {
  type: string;
  id: string;
  path: string;
  revision: string;
}

export interface EventEnvelope<P extends Record<string, unknown> = Record<string, unknown>> {
  /** Dotted lowercase, e.g. `process.started`, `daemon.gave-up`. */
  name: string;
  /** Version of the payload schema of this event name, >= 1. */
  version: number;
  /** A canonical lowercase RFC 9562 UUID. */
  uuid: string;
  /** RFC 3339 in UTC, e.g. `2026-03-01T12:00:00.000Z`. */
  timestamp: string;
  actor: Actor;
  artifact: Artifact;
  payload: P;
}

export interface CreateEventOptions {
  actor: Actor;
  /** `path` and `revision` default to ''; `type` and `id` must be given for a valid event. */
  artifact?: Partial<Artifact>;
  /** Default 1. */
  version?: number;
  /** The event time; default the current time. */
  now?: Date;
  /** Default a fresh `ID()` (UUIDv7). */
  uuid?: string;
}

/**
 * Builds an envelope, filling in the uuid, the timestamp and the artifact's optional fields.
 * It does not validate: `dispatch()` does, so a bad event is reported where it is delivered.
 * @example
 * const event = createEvent('process.started', { pid: 42 }, {
 *   actor: { kind: 'service', id: 'app/process' },
 *   artifact: { type: 'process', id: '42' },
 * });
 * validate(event); // null
 */
export function createEvent<P extends Record<string, unknown>>(
  name: string,
  payload: P,
  options: CreateEventOptions,
): EventEnvelope<P> {
  const artifact = options.artifact ?? {};
  return {
    name,
    version: options.version ?? 1,
    uuid: options.uuid ?? ID(),
    timestamp: (options.now ?? new Date()).toISOString(),
    // Copied so a caller mutating its actor object later cannot rewrite a queued event.
    actor: { kind: options.actor.kind, id: options.actor.id },
    artifact: {
      type: artifact.type ?? '',
      id: artifact.id ?? '',
      path: artifact.path ?? '',
      revision: artifact.revision ?? '',
    },
    payload,
  };
}
