// <cp-error-toast>: the error area. Shows the latest failure (data-testid="error"), with a
// count when the same one repeats, until dismissed or 10 seconds pass.
import { on } from '../bus.js';
import { h, setText } from '../dom.js';

const SHOW_MS = 10_000;

class ErrorToast extends HTMLElement {
  connectedCallback() {
    if (this.text) return;
    this.hidden = true;
    this.setAttribute('data-testid', 'error-toast');
    this.setAttribute('role', 'alert');
    // data-testid="error" holds exactly the message (the dismiss button sits beside it).
    this.text = h('span', { class: 'toast-text', testid: 'error' });
    this.append(
      this.text,
      h(
        'button',
        {
          type: 'button',
          class: 'icon',
          'aria-label': 'Dismiss error',
          testid: 'error-dismiss',
          onclick: () => this.clear(),
        },
        '×',
      ),
    );
    this.last = '';
    this.repeats = 0;
    on('error', (message) => this.show(message));
  }

  show(message) {
    this.repeats = message === this.last && !this.hidden ? this.repeats + 1 : 1;
    this.last = message;
    setText(this.text, this.repeats > 1 ? `${message} (×${this.repeats})` : message);
    this.hidden = false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.clear(), SHOW_MS);
  }

  clear() {
    clearTimeout(this.timer);
    this.hidden = true;
    this.last = '';
    setText(this.text, '');
  }
}

customElements.define('cp-error-toast', ErrorToast);
