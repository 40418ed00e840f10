/**
 * The daemon layer's primitives: PID files, the health server, the daemon registry, and the
 * Daemon that ties them together for the current process.
 */

export type { DaemonOptions, DaemonState } from './daemon.js';
export { Daemon } from './daemon.js';
export type {
  HealthAddress,
  HealthCheck,
  HealthCheckResult,
  HealthReport,
  HealthServerOptions,
  WaitForHealthOptions,
} from './health.js';
export { HealthServer, waitForHealth } from './health.js';
export type { PidFileErrorKind, PidRecord } from './pidfile.js';
export { PidFile, PidFileError, processStartTime } from './pidfile.js';
export type { DaemonEntry, DaemonRegistryOptions, RegistryProblem } from './registry.js';
export { DaemonRegistry, defaultRegistryDir } from './registry.js';
