// <cp-output>: the Output tab. Shows the selected process's captured stdout/stderr (GET
// .../output) and then its live process.output lines; follows the bottom unless the user
// scrolled up. Also writes to the process's stdin.
import { closeStdin, getOutput, sendInput } from '../api.js';
import { on, reportError } from '../bus.js';
import { badge, h, setBadge, setText } from '../dom.js';
import { commandLine, splitLines } from '../format.js';
import { processes, selectedId } from '../store.js';

const MAX_LINES = 5000; // older lines are trimmed from the top
const NEAR_BOTTOM_PX = 24;
// ANSI colour/cursor sequences: shown as text they are noise.
const ESC = String.fromCharCode(27);
const ANSI = new RegExp(`${ESC}\\[[0-9;?]*[ -/]*[@-~]`, 'g');

// How many leading `fresh` lines repeat the end of `seen` (lines the GET already had).
function overlap(seen, fresh) {
  for (let k = Math.min(seen.length, fresh.length); k > 0; k--) {
    let same = true;
    for (let i = 0; i < k && same; i++) same = seen[seen.length - k + i] === fresh[i];
    if (same) return k;
  }
  return 0;
}

class OutputTab extends HTMLElement {
  processId = null; // the process shown
  stdinClosed = new Set(); // ids whose stdin this panel closed
  loading = false;
  buffered = []; // live lines that arrived while the GET was in flight
  queue = []; // lines waiting for the next frame
  follow = true;

  connectedCallback() {
    if (this.log) return;
    this.nameText = h('span', { class: 'output-name mono' });
    this.statusBadge = badge('none', 'output-status');
    this.followButton = h(
      'button',
      {
        type: 'button',
        class: 'small',
        testid: 'output-follow',
        hidden: true,
        onclick: () => this.#jumpToBottom(),
      },
      '↓ Follow',
    );
    this.log = h('div', {
      class: 'output-log mono',
      testid: 'output',
      role: 'log',
      'aria-label': 'Process output',
      tabindex: 0,
      onscroll: () => this.#onScroll(),
    });
    this.stdin = h('input', {
      id: 'stdin-data',
      class: 'mono',
      testid: 'stdin',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'a line for stdin',
    });
    this.stdinSend = h('button', { type: 'submit', testid: 'stdin-send' }, 'Send');
    this.stdinClose = h(
      'button',
      { type: 'button', testid: 'stdin-close', onclick: () => this.#closeStdin() },
      'Close stdin',
    );
    this.append(
      h(
        'div',
        { class: 'output-head' },
        h('h2', { testid: 'output-title' }, this.nameText, ' ', this.statusBadge),
        h(
          'div',
          { class: 'toolbar' },
          this.followButton,
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              testid: 'output-clear',
              onclick: () => this.log.replaceChildren(),
            },
            'Clear view',
          ),
        ),
      ),
      this.log,
      h(
        'form',
        { class: 'stdin-form', testid: 'stdin-form', onsubmit: (e) => this.#send(e) },
        h('label', { for: 'stdin-data' }, 'stdin'),
        this.stdin,
        this.stdinSend,
        this.stdinClose,
      ),
    );
    this.#show(selectedId());
    on('select', (id) => this.#show(id));
    on('resync', () => this.#load()); // lines may have been missed while disconnected
    on('process.output', (line) => this.#onLine(line));
    on('processes-changed', () => this.#updateTitle());
  }

  /** Called by the tab bar when this tab becomes visible. */
  activate() {
    if (this.follow) this.log.scrollTop = this.log.scrollHeight;
  }

  #show(id) {
    this.processId = id;
    this.follow = true;
    this.followButton.hidden = true;
    this.#updateTitle();
    this.#load();
  }

  #updateTitle() {
    const id = this.processId;
    const entry = id === null ? null : processes.get(id);
    if (id === null) {
      setText(this.nameText, 'No process selected — pick one in Processes');
      this.statusBadge.hidden = true;
    } else {
      const snap = entry?.snap;
      setText(this.nameText, snap ? `${id} · ${commandLine(snap.command, snap.args)}` : id);
      this.statusBadge.hidden = !snap;
      if (snap) setBadge(this.statusBadge, snap.status);
    }
    const running = entry?.snap.status === 'running';
    this.stdin.disabled = !running;
    this.stdinSend.disabled = !running;
    this.stdinClose.disabled = !running || this.stdinClosed.has(id);
  }

  // Shows what the server captured so far, then the live lines that came in meanwhile
  // (less those the capture already held).
  async #load() {
    const id = this.processId;
    this.loadSeq = (this.loadSeq ?? 0) + 1;
    const seq = this.loadSeq;
    this.queue = [];
    this.buffered = [];
    this.log.replaceChildren();
    this.log.dataset.id = id ?? '';
    if (id === null) {
      this.loading = false;
      return;
    }
    this.loading = true;
    let captured = null;
    try {
      captured = await getOutput(id);
    } catch (error) {
      if (seq === this.loadSeq) reportError(error, `Output of ${id}`);
    }
    if (seq !== this.loadSeq) return; // another selection took over
    this.loading = false;
    const lines = [];
    const seen = { stdout: [], stderr: [] };
    if (captured) {
      for (const stream of ['stdout', 'stderr']) {
        const dropped = captured.dropped?.[stream];
        if (dropped > 0)
          lines.push({ stream: 'note', line: `… ${dropped} earlier ${stream} bytes dropped` });
        seen[stream] = splitLines(captured[stream]);
        for (const line of seen[stream]) lines.push({ stream, line });
      }
    }
    for (const stream of ['stdout', 'stderr']) {
      const fresh = this.buffered.filter((l) => l.stream === stream);
      let skip = overlap(
        seen[stream].slice(-1000),
        fresh.map((l) => l.line),
      );
      for (const l of this.buffered) {
        if (l.stream !== stream) continue;
        if (skip > 0) skip--;
        else lines.push(l);
      }
    }
    this.buffered = [];
    this.queue.push(...lines);
    this.#flush();
  }

  #onLine(payload) {
    if (payload?.id !== this.processId || this.processId === null) return;
    const line = { stream: payload.stream === 'stderr' ? 'stderr' : 'stdout', line: payload.line };
    if (this.loading) this.buffered.push(line);
    else {
      this.queue.push(line);
      // A background page gets no frames: keep only what could still be shown.
      if (this.queue.length > 2 * MAX_LINES) this.queue.splice(0, this.queue.length - MAX_LINES);
      if (!this.frame) this.frame = requestAnimationFrame(() => this.#flush());
    }
  }

  #flush() {
    cancelAnimationFrame(this.frame);
    this.frame = null;
    if (this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.queue.length).slice(-MAX_LINES);
    const fragment = document.createDocumentFragment();
    for (const { stream, line } of batch) {
      fragment.append(h('div', { class: `line ${stream}` }, String(line ?? '').replace(ANSI, '')));
    }
    this.log.append(fragment);
    const extra = this.log.childElementCount - MAX_LINES;
    for (let i = 0; i < extra; i++) this.log.firstElementChild.remove();
    if (this.follow) this.log.scrollTop = this.log.scrollHeight;
  }

  #onScroll() {
    const { scrollTop, scrollHeight, clientHeight } = this.log;
    if (clientHeight === 0) return; // hidden tab
    this.follow = scrollHeight - scrollTop - clientHeight <= NEAR_BOTTOM_PX;
    this.followButton.hidden = this.follow;
  }

  #jumpToBottom() {
    this.follow = true;
    this.followButton.hidden = true;
    this.log.scrollTop = this.log.scrollHeight;
  }

  async #send(event) {
    event.preventDefault();
    const id = this.processId;
    if (id === null) return;
    const data = `${this.stdin.value}\n`;
    try {
      await sendInput(id, data);
      this.stdin.value = '';
    } catch (error) {
      reportError(error, `stdin of ${id}`);
    }
  }

  async #closeStdin() {
    const id = this.processId;
    if (id === null) return;
    try {
      await closeStdin(id);
      this.stdinClosed.add(id);
      this.#updateTitle();
    } catch (error) {
      reportError(error, `Close stdin of ${id}`);
    }
  }
}

customElements.define('cp-output', OutputTab);
