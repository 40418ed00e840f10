/**
 * Stopping the process service: every managed group gets the kill signal, then SIGKILL after
 * the grace, and shutdown waits for every tree to be empty; the core's stop timeout (the abort
 * signal) bounds all of it. The audit trail is flushed last, so the exits are in it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Supervisor } from '../daemon/supervisor.js';
import type { SignalName } from '../process/signals.js';
import type { ThreadHandle } from '../thread/handle.js';
import type { ManagedProcess } from './managed.js';

/** What shutdown needs from the service it stops. */
export interface ShutdownHost {
  readonly processes: ReadonlyMap<string, ManagedProcess>;
  readonly threads: ReadonlyMap<string, ThreadHandle>;
  readonly daemons: ReadonlyMap<string, Supervisor>;
  /** Started with `detach: true`: left running. */
  readonly detached: ReadonlySet<string>;
  /** Children of a supervisor: the supervisor stops them with its own signal and grace. */
  readonly daemonOwned: ReadonlySet<string>;
  readonly killSignal: SignalName;
  /** Milliseconds between killSignal and SIGKILL. */
  readonly killGrace: number;
  /** Sends a signal through the managed process, audited as the service's shutdown. */
  signal(m: ManagedProcess, sig: SignalName, group: boolean): boolean;
  /** Resolves once the audit trail (if any) has delivered what it holds. */
  flush(): Promise<void>;
}

/**
 * @example
 * onShutdown: (_core, { signal }) => shutdownService(host, signal),
 */
export async function shutdownService(host: ShutdownHost, signal: AbortSignal): Promise<void> {
  const { processes, detached } = host;
  // Supervisors stop their own children (their stop signal and grace) and restart nothing;
  // this starts at once, before the first await of each stop().
  const supervised = [...host.daemons.values()].map((d) => d.stop());
  const live = [...processes.values()].filter(
    (m) => m.status === 'running' && !detached.has(m.id) && !host.daemonOwned.has(m.id),
  );
  for (const m of live) host.signal(m, host.killSignal, m.leadsGroup);
  // Whatever is left of a tree after the grace gets SIGKILL, leader or not: a member that
  // ignores the signal its leader died of would otherwise outlive the core.
  const escalate = setTimeout(() => {
    for (const m of live) if (m.treeAlive()) host.signal(m, 'SIGKILL', m.leadsGroup);
  }, host.killGrace);
  const onAbort = () => {
    for (const m of processes.values()) {
      if (!detached.has(m.id) && m.treeAlive()) host.signal(m, 'SIGKILL', true);
    }
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all([
      ...supervised,
      ...live.map((m) => m.done),
      ...[...host.threads.values()].filter((t) => t.running).map((t) => t.worker.terminate()),
    ]);
    // Done when every tree is empty, not only when every leader has exited.
    while (!signal.aborted && live.some((m) => m.treeAlive())) await sleep(20);
    // A descendant that outlived its managed process may still hold its output pipes.
    for (const m of processes.values()) if (!detached.has(m.id)) m.release();
    await host.flush();
  } finally {
    clearTimeout(escalate);
    signal.removeEventListener('abort', onAbort);
  }
}
