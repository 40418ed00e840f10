/**
 * `ID()`: the one source of identifiers (seed 000 §1 and 001 "core.ID()": "replace
 * proc-%d"). A per-process counter named different things after a restart, so an id written to
 * an audit log or held by a REST client could name a newer process. A UUIDv7 (RFC 9562 §5.7)
 * is unique across processes, machines and restarts and sorts by creation time, so logs and
 * listings order by id. `uuid`'s v7 also keeps ids made within one millisecond in order
 * (RFC 9562 §6.2, method 3), which node:crypto's randomUUID (v4 only) does not offer.
 */
import { v7 } from 'uuid';

/**
 * A fresh, time-ordered, globally unique id (UUIDv7, 36 characters).
 *
 * @example
 * const id = ID(); // '019af5c2-7c1e-7b3a-9f4e-1d2c3b4a5968'
 */
export function ID(): string {
  return v7();
}

/**
 * `ID()` behind a kind prefix, so a reader of a log tells a process id from a thread id.
 *
 * @example
 * prefixedID('proc'); // 'proc-019af5c2-7c1e-7b3a-9f4e-1d2c3b4a5968'
 */
export function prefixedID(prefix: string): string {
  return `${prefix}-${v7()}`;
}
