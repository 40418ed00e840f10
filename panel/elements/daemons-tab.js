// <cp-daemons>: the Daemons tab. Supervised daemons with health, state, pid, restarts and
// last exit; a Probe button (GET .../health) and a Stop button per daemon. Reloaded when
// shown, on reconnect and on every daemon.* event.
import { daemonHealth, listDaemons, stopDaemon } from '../api.js';
import { debounce, on, onAny, reportError } from '../bus.js';
import { badge, h, setBadge, setText } from '../dom.js';
import { duration } from '../format.js';

const COLUMNS = ['Health', 'Daemon', 'State', 'PID', 'Restarts', 'Last exit', 'Reason', ''];
const DAEMON_TOPICS = ['started', 'exited', 'restarting', 'unhealthy', 'gave-up', 'stopped'];
const STOPPABLE = new Set(['starting', 'running', 'backoff']);

const healthWord = (healthy) =>
  healthy === true ? 'healthy' : healthy === false ? 'unhealthy' : 'unknown';

function lastExitText(exit) {
  if (!exit) return '';
  const how = exit.signal ? exit.signal : `code ${exit.code}`;
  return typeof exit.durationMs === 'number' ? `${how} after ${duration(exit.durationMs)}` : how;
}

class DaemonsTab extends HTMLElement {
  rows = new Map(); // 'code/daemon' -> row

  connectedCallback() {
    if (this.tbody) return;
    this.tbody = h('tbody');
    this.empty = h(
      'tr',
      { class: 'empty' },
      h('td', { colspan: COLUMNS.length }, 'No supervised daemons.'),
    );
    this.tbody.append(this.empty);
    this.append(
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { testid: 'daemon-table', class: 'grid' },
          h('caption', { class: 'sr-only' }, 'Supervised daemons'),
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
    );
    this.reload = debounce(() => this.refresh(), 150);
    on('resync', () => this.refresh());
    onAny(
      DAEMON_TOPICS.map((t) => `daemon.${t}`),
      () => this.reload(),
    );
  }

  activate() {
    this.refresh();
  }

  async refresh() {
    try {
      const list = await listDaemons();
      if (Array.isArray(list)) this.render(list);
    } catch (error) {
      reportError(error, 'Loading daemons');
    }
  }

  render(list) {
    const keys = new Set();
    list.forEach((d, index) => {
      const key = `${d.code}/${d.daemon}`;
      keys.add(key);
      const row = this.rows.get(key) ?? this.#createRow(d.code, d.daemon);
      this.#fill(row, d);
      if (this.tbody.children[index] !== row.tr) {
        this.tbody.insertBefore(row.tr, this.tbody.children[index] ?? null);
      }
    });
    for (const [key, row] of this.rows) {
      if (!keys.has(key)) {
        row.tr.remove();
        this.rows.delete(key);
      }
    }
    if (list.length === 0) this.tbody.append(this.empty);
    else this.empty.remove();
  }

  #createRow(code, daemon) {
    const name = `${code}/${daemon}`;
    const cells = {
      health: h('td'),
      name: h('td', { class: 'mono' }, name),
      state: h('td'),
      pid: h('td', { class: 'num' }),
      restarts: h('td', { class: 'num', testid: 'daemon-restarts' }),
      lastExit: h('td'),
      reason: h('td', { class: 'reason' }),
      actions: h('td', { class: 'actions' }),
    };
    const row = {
      cells,
      health: badge('unknown', 'health'),
      state: badge('stopped', 'daemon-state'),
      probe: h(
        'button',
        {
          type: 'button',
          class: 'small',
          testid: 'daemon-probe',
          'aria-label': `Probe health of ${name}`,
          onclick: () => this.#probe(row, code, daemon),
        },
        'Probe',
      ),
      stop: h(
        'button',
        {
          type: 'button',
          class: 'danger small',
          testid: 'daemon-stop',
          'aria-label': `Stop ${name}`,
          onclick: () => this.#stop(row, code, daemon),
        },
        'Stop',
      ),
    };
    row.probeResult = h('small', { class: 'probe-result', testid: 'daemon-probe-result' });
    cells.health.append(row.health, ' ', row.probeResult);
    cells.state.append(row.state);
    cells.actions.append(row.probe, row.stop);
    row.tr = h('tr', { testid: 'daemon-row', dataset: { code, daemon } }, Object.values(cells));
    this.rows.set(name, row);
    return row;
  }

  #fill(row, d) {
    row.tr.dataset.state = d.state;
    setBadge(row.health, healthWord(d.healthy));
    row.health.title =
      d.consecutiveHealthFailures > 0
        ? `${d.consecutiveHealthFailures} failed probe(s) in a row`
        : '';
    setBadge(row.state, d.state);
    setText(row.cells.pid, d.pid ?? '—');
    setText(row.cells.restarts, d.restarts ?? 0);
    setText(row.cells.lastExit, lastExitText(d.lastExit));
    setText(row.cells.reason, d.reason ?? '');
    if (!row.stopping) row.stop.disabled = !STOPPABLE.has(d.state);
  }

  async #probe(row, code, daemon) {
    row.probe.disabled = true;
    try {
      const { probe } = await daemonHealth(code, daemon);
      let text = 'no probe configured';
      if (probe) {
        setBadge(row.health, probe.ok ? 'healthy' : 'unhealthy');
        text = probe.ok ? 'probe ok' : `probe failed${probe.error ? `: ${probe.error}` : ''}`;
      }
      setText(row.probeResult, `${text} (${new Date().toLocaleTimeString()})`);
    } catch (error) {
      reportError(error, `Probe ${code}/${daemon}`);
    } finally {
      row.probe.disabled = false;
    }
  }

  async #stop(row, code, daemon) {
    row.stopping = true;
    row.stop.disabled = true;
    try {
      await stopDaemon(code, daemon);
    } catch (error) {
      reportError(error, `Stop ${code}/${daemon}`);
    } finally {
      row.stopping = false;
      this.refresh();
    }
  }
}

customElements.define('cp-daemons', DaemonsTab);
