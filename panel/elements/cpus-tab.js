// <cp-cpus>: the CPUs tab. One row per online CPU with the managed processes and threads
// allowed on it (GET /system), realtime ones badged. Polls every 2 s while the tab is shown
// and the page visible, and refreshes on process events.
import { getSystem } from '../api.js';
import { debounce, emit, on, onAny, reportError } from '../bus.js';
import { h } from '../dom.js';
import { select } from '../store.js';

const POLL_MS = 2000;

function schedText(task) {
  return task.priority ? `${task.policy} ${task.priority}` : String(task.policy ?? '');
}

class CpusTab extends HTMLElement {
  active = false;
  loading = false;

  connectedCallback() {
    if (this.tbody) return;
    this.tbody = h('tbody');
    this.note = h('p', { class: 'muted' });
    this.append(
      h(
        'p',
        { class: 'hint' },
        'Each CPU lists the running managed processes and threads allowed on it. ',
        'Faded entries may run on any CPU; ',
        h('span', { class: 'badge', dataset: { status: 'realtime' } }, 'RT'),
        ' marks a realtime policy (fifo/rr).',
      ),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'grid', testid: 'cpu-table' },
          h('caption', { class: 'sr-only' }, 'What runs on each CPU'),
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['CPU', 'Processes', 'Threads'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          this.tbody,
        ),
      ),
      this.note,
    );
    this.soon = debounce(() => this.refresh(), 250);
    onAny(['process.started', 'process.exited', 'process.killed'], () => {
      if (this.#visible()) this.soon();
    });
    on('resync', () => {
      if (this.#visible()) this.refresh();
    });
    document.addEventListener('visibilitychange', () => this.#schedule());
  }

  disconnectedCallback() {
    clearInterval(this.timer);
  }

  activate() {
    this.active = true;
    this.refresh();
    this.#schedule();
  }

  deactivate() {
    this.active = false;
    this.#schedule();
  }

  #visible() {
    return this.active && document.visibilityState === 'visible';
  }

  #schedule() {
    clearInterval(this.timer);
    this.timer = null;
    if (this.#visible()) this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  async refresh() {
    if (this.loading) return;
    this.loading = true;
    try {
      const view = await getSystem();
      if (view && Array.isArray(view.perCpu)) this.render(view);
    } catch (error) {
      reportError(error, 'Loading CPUs');
    } finally {
      this.loading = false;
    }
  }

  render(view) {
    const stamp = `${new Date().toLocaleTimeString()}`;
    const key = JSON.stringify([view.cpus, view.perCpu]);
    if (key === this.lastKey) {
      this.note.textContent = this.note.textContent.replace(/updated .*$/, `updated ${stamp}`);
      return;
    }
    this.lastKey = key;
    const online = Array.isArray(view.cpus) ? view.cpus : view.perCpu.map((c) => c.cpu);
    // A task allowed on every online CPU is not pinned: it is shown faded.
    const spread = new Map();
    for (const c of view.perCpu) {
      for (const t of [...(c.processes ?? []), ...(c.threads ?? [])]) {
        spread.set(t.id, (spread.get(t.id) ?? 0) + 1);
      }
    }
    const unpinned = (t) => online.length > 1 && spread.get(t.id) >= online.length;
    const byCpu = new Map(view.perCpu.map((c) => [c.cpu, c]));
    const rows = online.map((cpu) => {
      const entry = byCpu.get(cpu) ?? { processes: [], threads: [] };
      const processes = entry.processes ?? [];
      const threads = entry.threads ?? [];
      return h(
        'tr',
        { testid: 'cpu-row', dataset: { cpu } },
        h('th', { scope: 'row', class: 'num' }, `CPU ${cpu}`),
        h(
          'td',
          {},
          processes.length
            ? processes.map((p) =>
                this.#chip(
                  p,
                  'cpu-process',
                  `${p.id} · ${p.pid}`,
                  `${p.command}`,
                  unpinned(p),
                  () => {
                    select(p.id);
                    emit('show-tab', 'output');
                  },
                ),
              )
            : h('span', { class: 'muted' }, '—'),
        ),
        h(
          'td',
          {},
          threads.length
            ? threads.map((t) =>
                this.#chip(t, 'cpu-thread', `${t.id} · ${t.tid}`, t.name ?? '', unpinned(t)),
              )
            : h('span', { class: 'muted' }, '—'),
        ),
      );
    });
    this.tbody.replaceChildren(...rows);
    this.note.textContent = `${online.length} online CPU${online.length === 1 ? '' : 's'} · updated ${stamp}`;
  }

  #chip(task, testid, label, name, faded, onclick) {
    const sched = schedText(task);
    return h(
      onclick ? 'button' : 'span',
      {
        type: onclick ? 'button' : undefined,
        class: `chip${faded ? ' unpinned' : ''}${task.realtime ? ' realtime' : ''}`,
        testid,
        dataset: { id: task.id },
        title: `${name}${sched ? ` (${sched})` : ''}${faded ? ', may run on any CPU' : ''}${onclick ? '\nClick to show output' : ''}`,
        onclick,
      },
      h('span', { class: 'mono' }, label),
      name ? h('span', { class: 'chip-name mono' }, name) : null,
      task.realtime
        ? h(
            'span',
            { class: 'badge', testid: 'realtime', dataset: { status: 'realtime' } },
            `RT ${sched}`,
          )
        : null,
    );
  }
}

customElements.define('cp-cpus', CpusTab);
