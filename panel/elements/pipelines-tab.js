// <cp-pipelines>: the Pipelines tab. Recent pipeline runs, newest first, each drawn as a
// dependency graph of its specs that pipeline.* events keep live; clicking a spec shows its
// command, error and output. A small form runs a new pipeline from JSON.
import { listPipelines, runPipeline } from '../api.js';
import { debounce, on, reportError } from '../bus.js';
import { badge, fill, h, setBadge, setText } from '../dom.js';
import { clock, commandLine, duration } from '../format.js';
import { pipelineGraph } from './pipeline-graph.js';

const EXAMPLE = JSON.stringify(
  [
    { name: 'build', command: 'sh', args: ['-c', 'echo building; sleep 1'] },
    { name: 'test', command: 'sh', args: ['-c', 'echo testing; sleep 1'], after: ['build'] },
    { name: 'lint', command: 'true', after: ['build'] },
    { name: 'ship', command: 'echo', args: ['shipped'], after: ['test', 'lint'] },
  ],
  null,
  2,
);

// How a whole run is coloured: running, passed, failed (or cancelled).
function outcome(run) {
  if (run.state !== 'done') return 'running';
  if (run.result?.cancelled) return 'cancelled';
  if (run.result) return run.result.success ? 'passed' : 'failed';
  return run.specs.some((s) => s.status === 'failed') ? 'failed' : 'passed';
}

function summary(run) {
  const count = (status) => run.specs.filter((s) => s.status === status).length;
  const r = run.result;
  const parts = [
    `${r?.passed ?? count('passed')} passed`,
    `${r?.failed ?? count('failed')} failed`,
    `${r?.skipped ?? count('skipped')} skipped`,
  ];
  if (run.state !== 'done') parts.unshift(`${count('running')} running`);
  if (typeof r?.durationMs === 'number') parts.push(duration(r.durationMs));
  if (r?.cancelled) parts.push('cancelled');
  return parts.join(' · ');
}

class PipelinesTab extends HTMLElement {
  runs = new Map(); // id -> run (as GET /pipelines lists it)
  views = new Map(); // id -> { section, ... }

  connectedCallback() {
    if (this.list) return;
    this.list = h('div', { class: 'pipeline-list', testid: 'pipeline-list' });
    this.empty = h('p', { class: 'empty' }, 'No pipeline runs yet.');
    this.append(this.#form(), this.list);
    this.render();
    this.reload = debounce(() => this.refresh(), 200);
    on('resync', () => this.refresh());
    on('pipeline.started', (value, meta) => this.#started(value, meta));
    on('pipeline.progress', (value) => this.#progress(value));
    on('pipeline.finished', (value) => this.#finished(value));
  }

  activate() {
    this.refresh();
  }

  async refresh() {
    try {
      const list = await listPipelines();
      if (!Array.isArray(list)) return;
      const ids = new Set(list.map((r) => r.id));
      for (const id of this.runs.keys()) if (!ids.has(id)) this.runs.delete(id);
      for (const run of list) this.runs.set(run.id, run);
      this.render();
    } catch (error) {
      reportError(error, 'Loading pipelines');
    }
  }

  #started({ id, specs }, meta) {
    if (typeof id !== 'string') return;
    this.runs.set(id, {
      id,
      state: 'running',
      startedAt: meta?.time ?? new Date().toISOString(),
      specs: (specs ?? []).map((s) => ({ after: [], status: 'pending', ...s })),
    });
    this.render();
  }

  #progress({ id, name, ...fields }) {
    const spec = this.runs.get(id)?.specs.find((s) => s.name === name);
    if (!spec) {
      this.reload(); // we missed its start: ask the server
      return;
    }
    Object.assign(spec, fields);
    this.#renderRun(id);
  }

  #finished({ id, result }) {
    const run = this.runs.get(id);
    if (!run) {
      this.reload();
      return;
    }
    run.state = 'done';
    if (result) {
      run.result = result;
      for (const r of result.specs ?? []) {
        const spec = run.specs.find((s) => s.name === r.name);
        if (!spec) continue;
        spec.status = r.status;
        spec.durationMs = r.durationMs;
        if (r.error !== undefined) spec.error = r.error;
      }
    }
    this.#renderRun(id);
  }

  render() {
    const ordered = [...this.runs.values()].sort(
      (a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt) || b.id.localeCompare(a.id),
    );
    for (const [id, view] of this.views) {
      if (!this.runs.has(id)) {
        view.section.remove();
        this.views.delete(id);
      }
    }
    ordered.forEach((run, index) => {
      this.#renderRun(run.id);
      const { section } = this.views.get(run.id);
      if (this.list.children[index] !== section) {
        this.list.insertBefore(section, this.list.children[index] ?? null);
      }
    });
    if (ordered.length === 0) this.list.append(this.empty);
    else this.empty.remove();
  }

  #renderRun(id) {
    const run = this.runs.get(id);
    if (!run) return;
    let view = this.views.get(id);
    if (!view) {
      view = {
        state: badge('running', 'pipeline-state'),
        when: h('span', { class: 'muted' }),
        summary: h('span', { class: 'pipeline-summary', testid: 'pipeline-summary' }),
        graph: h('div', { class: 'graph-wrap' }),
        detail: h('div', { class: 'spec-detail', testid: 'pipeline-spec-detail', hidden: true }),
        selected: null,
      };
      view.section = h(
        'section',
        { class: 'pipeline-run card', testid: 'pipeline-run', dataset: { id } },
        h(
          'header',
          { class: 'run-head' },
          h('h3', { class: 'mono' }, id),
          view.state,
          view.when,
          view.summary,
        ),
        view.graph,
        view.detail,
      );
      this.views.set(id, view);
    }
    view.section.dataset.state = run.state;
    setBadge(view.state, outcome(run), run.state);
    setText(view.when, run.startedAt ? `started ${clock(run.startedAt)}` : '');
    setText(view.summary, summary(run));
    // Keep keyboard focus on the same box across the redraw.
    const focused = view.graph.contains(document.activeElement)
      ? document.activeElement.dataset?.name
      : undefined;
    view.graph.replaceChildren(
      pipelineGraph(run.specs, {
        selected: view.selected,
        onSelect: (name) => {
          view.selected = view.selected === name ? null : name;
          this.#renderRun(id);
        },
      }),
    );
    if (focused !== undefined) {
      for (const box of view.graph.querySelectorAll('.spec')) {
        if (box.dataset.name === focused) box.focus();
      }
    }
    this.#renderDetail(run, view);
  }

  #renderDetail(run, view) {
    const spec = run.specs.find((s) => s.name === view.selected);
    view.detail.hidden = !spec;
    if (!spec) {
      view.detail.replaceChildren();
      return;
    }
    const result = run.result?.specs?.find((r) => r.name === spec.name);
    const exit = result?.exitStatus;
    fill(
      view.detail,
      h('h4', {}, spec.name, ' ', badge(spec.status ?? 'pending', 'pipeline-spec-status')),
      h('p', { class: 'mono' }, `$ ${commandLine(spec.command, spec.args)}`),
      spec.after?.length ? h('p', {}, `after: ${spec.after.join(', ')}`) : null,
      exit ? h('p', {}, exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`) : null,
      spec.error ? h('p', { class: 'error-text' }, spec.error) : null,
      result?.output
        ? h(
            'pre',
            { class: 'output-log mono', testid: 'pipeline-spec-output' },
            String(result.output),
          )
        : h(
            'p',
            { class: 'muted' },
            run.state === 'done' ? 'No output.' : 'Output shows when the run finishes.',
          ),
    );
  }

  #form() {
    const specs = h('textarea', {
      id: 'pipeline-specs',
      class: 'mono',
      rows: 10,
      spellcheck: 'false',
      testid: 'pipeline-specs',
    });
    specs.value = EXAMPLE;
    const mode = h(
      'select',
      { id: 'pipeline-mode', testid: 'pipeline-mode' },
      ['all', 'sequential', 'parallel'].map((m) => h('option', { value: m }, m)),
    );
    const submit = h(
      'button',
      { type: 'submit', class: 'primary', testid: 'pipeline-submit' },
      'Run',
    );
    const form = h(
      'form',
      {
        class: 'pipeline-form',
        testid: 'pipeline-form',
        onsubmit: async (event) => {
          event.preventDefault();
          let list;
          try {
            list = JSON.parse(specs.value);
            if (!Array.isArray(list)) throw new Error('expected a JSON array of specs');
          } catch (error) {
            reportError(`Pipeline specs: ${error.message}`);
            return;
          }
          submit.disabled = true;
          setText(submit, 'Running…');
          try {
            await runPipeline(list, mode.value);
            this.refresh(); // in case live events were missed
          } catch (error) {
            reportError(error, 'Pipeline');
          } finally {
            submit.disabled = false;
            setText(submit, 'Run');
          }
        },
      },
      h(
        'label',
        { for: 'pipeline-specs' },
        'Specs (JSON: name, command, args, after, allowFailure)',
      ),
      specs,
      h('div', { class: 'row' }, h('label', { for: 'pipeline-mode' }, 'Mode'), mode, submit),
    );
    return h(
      'details',
      { class: 'card run-pipeline' },
      h('summary', { testid: 'pipeline-new' }, 'Run a pipeline'),
      form,
    );
  }
}

customElements.define('cp-pipelines', PipelinesTab);
