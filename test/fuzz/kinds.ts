// The documented ProcessError kinds, written out (not taken from lib/): a kind the library
// starts throwing without documenting it must fail the fuzzers.
import type { ProcessErrorKind } from '../../lib/errors.js';

export const PROCESS_KINDS: ReadonlySet<ProcessErrorKind> = new Set<ProcessErrorKind>([
  'SpawnFailed',
  'TimedOut',
  'TerminatedBySignal',
  'InvalidCommand',
  'PermissionDenied',
  'Unsupported',
  'NonZeroExit',
  'NotFound',
]);
