// <cp-start-form>: starts a process (POST /processes) from a program, its args, a CPU set
// and a scheduler; on success it selects the new process and opens the Output tab.
import { startProcess } from '../api.js';
import { emit, reportError } from '../bus.js';
import { h } from '../dom.js';
import { parseArgs, parseCpus } from '../format.js';
import { refreshOne, select } from '../store.js';

const POLICIES = ['other', 'batch', 'idle', 'fifo', 'rr'];

function field(label, control, hint) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('small', { class: 'hint' }, hint) : null,
  );
}

class StartForm extends HTMLElement {
  connectedCallback() {
    if (this.form) return;
    const input = (name, props) =>
      h('input', { id: `start-${name}`, name, testid: `start-${name}`, ...props });
    this.command = input('command', {
      required: true,
      placeholder: 'sleep',
      autocomplete: 'off',
      spellcheck: 'false',
      class: 'mono',
    });
    this.args = input('args', {
      placeholder: '60  or  -c "echo hi"',
      autocomplete: 'off',
      spellcheck: 'false',
      class: 'mono',
    });
    this.cpus = input('cpus', { placeholder: '0,1', autocomplete: 'off', inputmode: 'numeric' });
    this.policy = h(
      'select',
      { id: 'start-policy', name: 'policy', testid: 'start-policy' },
      h('option', { value: '' }, 'default'),
      POLICIES.map((p) => h('option', { value: p }, p)),
    );
    this.priority = input('priority', { type: 'number', min: 0, max: 99, placeholder: '0' });
    this.nice = input('nice', { type: 'number', min: -20, max: 19, placeholder: '0' });
    this.submit = h(
      'button',
      { type: 'submit', class: 'primary', testid: 'start-submit' },
      'Start',
    );
    this.form = h(
      'form',
      {
        class: 'start-form',
        testid: 'start-form',
        'aria-label': 'Start a process',
        onsubmit: (event) => this.#start(event),
      },
      field('Program', this.command),
      field('Args', this.args, 'space-separated; "double quotes" group'),
      field('CPUs', this.cpus, 'e.g. 0,1 or 0-3'),
      field('Policy', this.policy),
      field('Priority', this.priority, 'fifo/rr: 1–99'),
      field('Nice', this.nice),
      h('div', { class: 'field submit' }, this.submit),
    );
    this.append(h('h2', {}, 'Start a process'), this.form);
  }

  /** The request body, or throws with what is wrong in the form. */
  #spec() {
    const command = this.command.value.trim();
    if (command === '') throw new Error('Program: enter a program to run');
    const spec = { command, args: parseArgs(this.args.value) };
    const affinity = parseCpus(this.cpus.value);
    if (affinity !== null) spec.affinity = affinity;
    const policy = this.policy.value;
    const priority = this.priority.value.trim();
    if (policy !== '') {
      spec.scheduler = { policy };
      if (priority !== '') spec.scheduler.priority = Number(priority);
    } else if (priority !== '') {
      throw new Error('Priority: choose a scheduling policy for it');
    }
    const nice = this.nice.value.trim();
    if (nice !== '') spec.nice = Number(nice);
    return spec;
  }

  async #start(event) {
    event.preventDefault();
    let spec;
    try {
      spec = this.#spec();
    } catch (error) {
      reportError(error);
      return;
    }
    this.submit.disabled = true;
    try {
      const { id } = await startProcess(spec);
      select(id);
      emit('show-tab', 'output');
      await refreshOne(id);
    } catch (error) {
      reportError(error, 'Start failed');
    } finally {
      this.submit.disabled = false;
    }
  }
}

customElements.define('cp-start-form', StartForm);
