/**
 * Pipeline progress for people: on a terminal, one line per spec redrawn in place (log-update)
 * with a running clock; elsewhere (CI logs, pipes) one plain line per state change, so the
 * log reads top to bottom.
 */
import { logUpdateStderr } from 'log-update';
import type { ProgressEvent, SpecResult } from '../runner/spec.js';

type Row =
  | { state: 'pending' }
  | { state: 'running'; pid: number; since: number }
  | { state: 'done'; result: SpecResult };

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

function outcome(r: SpecResult): string {
  if (r.status === 'skipped') return `skipped: ${r.error ?? ''}`;
  if (r.status === 'passed') return `passed ${seconds(r.durationMs)}`;
  const s = r.exitStatus;
  const why =
    r.error ??
    (s === null ? 'failed' : s.signal !== null ? `killed by ${s.signal}` : `exit ${s.code}`);
  return `failed (${why}) ${seconds(r.durationMs)}`;
}

const MARK = { passed: '✔', failed: '✖', skipped: '⤼' } as const;

/**
 * @example
 * const progress = new PipelineProgress(names, process.stderr.isTTY === true);
 * await runAll(specs, { onProgress: (e) => progress.update(e) });
 * progress.finish();
 */
export class PipelineProgress {
  readonly #rows = new Map<string, Row>();
  readonly #tty: boolean;
  readonly #write: (line: string) => void;
  readonly #width: number;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    names: readonly string[],
    tty: boolean,
    write = (l: string) => void process.stderr.write(`${l}\n`),
  ) {
    for (const n of names) this.#rows.set(n, { state: 'pending' });
    this.#tty = tty;
    this.#write = write;
    this.#width = Math.max(4, ...names.map((n) => n.length));
    if (tty) {
      this.#timer = setInterval(() => this.#draw(), 100);
      this.#timer.unref();
      this.#draw();
    }
  }

  update(e: ProgressEvent): void {
    if (e.type === 'started') {
      this.#rows.set(e.name, { state: 'running', pid: e.pid, since: performance.now() });
      if (!this.#tty) this.#write(`▶ ${e.name} started (pid ${e.pid})`);
    } else {
      this.#rows.set(e.result.name, { state: 'done', result: e.result });
      if (!this.#tty) this.#write(`${MARK[e.result.status]} ${e.result.name} ${outcome(e.result)}`);
    }
    if (this.#tty) this.#draw();
  }

  /** Stops redrawing and leaves the final table on screen. */
  finish(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#tty) {
      this.#draw();
      logUpdateStderr.done();
    }
  }

  #draw(): void {
    const lines: string[] = [];
    for (const [name, row] of this.#rows) {
      const label = name.padEnd(this.#width);
      if (row.state === 'pending') lines.push(`○ ${label}  waiting`);
      else if (row.state === 'running') {
        lines.push(
          `◐ ${label}  running ${seconds(performance.now() - row.since)} (pid ${row.pid})`,
        );
      } else lines.push(`${MARK[row.result.status]} ${label}  ${outcome(row.result)}`);
    }
    logUpdateStderr(lines.join('\n'));
  }
}
