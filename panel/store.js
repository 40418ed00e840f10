// Shared panel state: the known processes (kept current from GET /processes and the
// process.* events) and which process is selected for the Output tab.
import { getProcess, listProcesses } from './api.js';
import { emit, on, reportError } from './bus.js';

const TERMINAL = new Set(['exited', 'failed', 'killed']);

/** id -> { snap, receivedAt (performance.now()), signalsSent: string[] } */
export const processes = new Map();
let selected = null;

export const isTerminal = (status) => TERMINAL.has(status);
export const selectedId = () => selected;

/** Selects a process for the Output tab (null clears). */
export function select(id) {
  if (id === selected) return;
  selected = id;
  emit('select', id);
}

/** Adds or updates one snapshot; a late 'running' never overwrites a known end. */
export function upsert(snap) {
  if (!snap || typeof snap.id !== 'string') return;
  const known = processes.get(snap.id);
  if (known && isTerminal(known.snap.status) && !isTerminal(snap.status)) return;
  processes.set(snap.id, {
    snap,
    receivedAt: performance.now(),
    signalsSent: known?.signalsSent ?? [],
  });
  changed();
}

/** How long a process has run: its final duration, or the time since it started. */
export function uptimeMs(entry) {
  const { snap } = entry;
  if (typeof snap.durationMs === 'number') {
    if (snap.status !== 'running') return snap.durationMs;
    return snap.durationMs + (performance.now() - entry.receivedAt);
  }
  const started = Date.parse(snap.startedAt);
  if (Number.isNaN(started)) return null;
  return isTerminal(snap.status) ? null : Math.max(0, Date.now() - started);
}

/** Replaces the whole list with the server's. */
export async function refresh() {
  try {
    const list = await listProcesses();
    if (!Array.isArray(list)) return;
    const ids = new Set(list.map((snap) => snap.id));
    for (const id of processes.keys()) if (!ids.has(id)) processes.delete(id);
    for (const snap of list) upsert(snap);
    changed();
  } catch (error) {
    reportError(error, 'Loading processes');
  }
}

/** Fetches one process (e.g. right after starting it, before its event arrives). */
export async function refreshOne(id) {
  try {
    upsert(await getProcess(id));
  } catch (error) {
    reportError(error, `Loading ${id}`);
  }
}

// Coalesce bursts of updates into one 'processes-changed' per task.
let pending = false;
function changed() {
  if (pending) return;
  pending = true;
  queueMicrotask(() => {
    pending = false;
    emit('processes-changed');
  });
}

on('resync', refresh);
on('process.started', upsert);
on('process.exited', upsert);
on('process.killed', ({ id, signal }) => {
  const entry = processes.get(id);
  if (!entry) return;
  const sent = signal ?? 'signal';
  if (!entry.signalsSent.includes(sent)) entry.signalsSent.push(sent);
  changed();
});
