/**
 * Signal names at the API, numbers only at the native boundary. The table is the running
 * platform's own (`os.constants.signals`), so 'SIGUSR1' means 10 on Linux and 30 on macOS.
 */
import { constants } from 'node:os';
import { invalid } from '../errors.js';

export type SignalName = keyof typeof constants.signals;

const byNumber = new Map<number, string>();
for (const [name, num] of Object.entries(constants.signals)) {
  // SIGIOT/SIGABRT and SIGPOLL/SIGIO share numbers: keep the first, conventional name.
  if (!byNumber.has(num)) byNumber.set(num, name);
}

/** 'SIGTERM' -> 15; throws InvalidCommand naming the field for anything else. */
export function signalNumber(name: unknown, field = 'signal'): number {
  if (typeof name === 'string' && Object.hasOwn(constants.signals, name)) {
    return constants.signals[name as SignalName];
  }
  throw invalid(field, name, 'is not a signal name of this platform (e.g. "SIGTERM")');
}

/** 15 -> 'SIGTERM'; unknown numbers become 'SIG<n>'. */
export function signalName(num: number): string {
  return byNumber.get(num) ?? `SIG${num}`;
}
