// <cp-processes>: the Processes tab. A table of every managed process (status, pid, command
// line, ticking uptime, CPU set, scheduler, exit) with a Kill button per row; clicking a row
// selects it for the Output tab. Holds the start form too.
import { killProcess } from '../api.js';
import { on, reportError } from '../bus.js';
import { badge, h, setBadge, setText } from '../dom.js';
import { commandLine, cpuList, duration } from '../format.js';
import { processes, select, selectedId, uptimeMs } from '../store.js';
import './start-form.js';

const COLUMNS = ['Status', 'ID', 'PID', 'Command', 'Uptime', 'CPUs', 'Scheduler', 'Exit', ''];

// Newest first: by start time, then by id (a UUIDv7 after its kind prefix: ids sort by creation).
function newestFirst(a, b) {
  const byTime = Date.parse(b.snap.startedAt ?? 0) - Date.parse(a.snap.startedAt ?? 0);
  if (byTime) return byTime;
  return a.snap.id < b.snap.id ? 1 : a.snap.id > b.snap.id ? -1 : 0;
}

function exitText(snap) {
  if (snap.status === 'failed' && snap.error) return snap.error;
  if (snap.signal) return snap.signal;
  if (snap.exitCode !== null && snap.exitCode !== undefined) return `code ${snap.exitCode}`;
  return '';
}

function schedulerText(snap) {
  const s = snap.scheduler;
  if (!s) return '';
  return s.priority ? `${s.policy} ${s.priority}` : String(s.policy);
}

class ProcessesTab extends HTMLElement {
  rows = new Map(); // id -> { tr, cells, kill }

  connectedCallback() {
    if (this.tbody) return;
    this.tbody = h('tbody');
    this.empty = h(
      'tr',
      { class: 'empty' },
      h('td', { colspan: COLUMNS.length }, 'No processes yet. Start one below.'),
    );
    this.append(
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { testid: 'process-table', class: 'grid' },
          h('caption', { class: 'sr-only' }, 'Managed processes'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          this.tbody,
        ),
      ),
      h('cp-start-form'),
    );
    this.render();
    on('processes-changed', () => this.render());
    on('select', () => this.#markSelected());
    this.ticker = setInterval(() => this.#tick(), 1000);
  }

  disconnectedCallback() {
    clearInterval(this.ticker);
  }

  render() {
    const entries = [...processes.values()].sort(newestFirst);
    for (const [id, row] of this.rows) {
      if (!processes.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    entries.forEach((entry, index) => {
      const row = this.rows.get(entry.snap.id) ?? this.#createRow(entry.snap.id);
      this.#fill(row, entry);
      if (this.tbody.children[index] !== row.tr) {
        this.tbody.insertBefore(row.tr, this.tbody.children[index] ?? null);
      }
    });
    if (entries.length === 0) this.tbody.append(this.empty);
    else this.empty.remove();
    this.#markSelected();
  }

  #createRow(id) {
    const cell = (cls) => h('td', { class: cls });
    const cells = {
      status: cell('status'),
      id: cell('mono'),
      pid: cell('num'),
      command: cell('mono command'),
      uptime: cell('num uptime'),
      cpus: cell('mono'),
      scheduler: cell(''),
      exit: cell('exit'),
      actions: cell('actions'),
    };
    const status = badge('pending');
    cells.status.append(status);
    const kill = h(
      'button',
      {
        type: 'button',
        class: 'danger small',
        testid: 'kill',
        onclick: (event) => {
          event.stopPropagation();
          this.#kill(id, kill);
        },
      },
      'Kill',
    );
    cells.actions.append(kill);
    const tr = h(
      'tr',
      {
        testid: 'process-row',
        dataset: { id },
        tabindex: 0,
        'aria-selected': 'false',
        title: 'Show output',
        onclick: () => select(id),
        onkeydown: (event) => {
          if (event.target === tr && (event.key === 'Enter' || event.key === ' ')) {
            event.preventDefault();
            select(id);
          }
        },
      },
      Object.values(cells),
    );
    const row = { tr, cells, status, kill };
    this.rows.set(id, row);
    return row;
  }

  #fill(row, entry) {
    const { snap } = entry;
    const { cells } = row;
    row.tr.dataset.status = snap.status;
    setBadge(row.status, snap.status);
    setText(cells.id, snap.id);
    setText(cells.pid, snap.pid ?? '—');
    const line = commandLine(snap.command, snap.args);
    setText(cells.command, line);
    cells.command.title = snap.cwd ? `${line}\n(in ${snap.cwd})` : line;
    setText(cells.uptime, duration(uptimeMs(entry)));
    setText(cells.cpus, cpuList(snap.affinity) || 'any');
    cells.cpus.classList.toggle('muted', !snap.affinity?.length);
    setText(cells.scheduler, schedulerText(snap));
    setText(cells.exit, exitText(snap));
    const running = snap.status === 'running';
    row.kill.disabled = !running;
    // Once a SIGTERM went out, the next press sends SIGKILL.
    const force = running && entry.signalsSent.length > 0;
    row.kill.dataset.signal = force ? 'SIGKILL' : 'SIGTERM';
    setText(row.kill, force ? 'Kill -9' : 'Kill');
    row.kill.setAttribute('aria-label', `${force ? 'Force kill' : 'Kill'} ${snap.id}`);
    row.kill.title = force
      ? `Sent ${entry.signalsSent.join(', ')}; press again to send SIGKILL`
      : 'Send SIGTERM';
  }

  #markSelected() {
    const id = selectedId();
    for (const [rowId, row] of this.rows) {
      const isSelected = rowId === id;
      row.tr.classList.toggle('selected', isSelected);
      row.tr.setAttribute('aria-selected', String(isSelected));
    }
  }

  #tick() {
    for (const [id, row] of this.rows) {
      const entry = processes.get(id);
      if (entry?.snap.status === 'running') setText(row.cells.uptime, duration(uptimeMs(entry)));
    }
  }

  async #kill(id, button) {
    const signal = button.dataset.signal || 'SIGTERM';
    button.disabled = true;
    try {
      const result = await killProcess(id, signal);
      if (result?.sent === false) reportError(`${id}: ${signal} not sent (it had already exited)`);
      const entry = processes.get(id);
      // The process.killed event says the same; this covers a late or missing event.
      if (entry && result?.sent !== false && !entry.signalsSent.includes(signal)) {
        entry.signalsSent.push(signal);
      }
    } catch (error) {
      reportError(error, `Kill ${id}`);
    } finally {
      const entry = processes.get(id);
      if (entry) this.#fill(this.rows.get(id), entry);
    }
  }
}

customElements.define('cp-processes', ProcessesTab);
