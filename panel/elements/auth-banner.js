// <cp-auth-banner>: shown when there is no API token or the server refused it (401);
// lets the user paste the token the server printed and retry with it.
import { setToken } from '../auth.js';
import { on } from '../bus.js';
import { h, setText } from '../dom.js';

class AuthBanner extends HTMLElement {
  connectedCallback() {
    if (this.message) return;
    this.hidden = true;
    this.setAttribute('data-testid', 'auth-banner');
    this.setAttribute('role', 'alert');
    this.reason = h('span', { testid: 'auth-reason' });
    this.message = h(
      'p',
      { class: 'auth-message' },
      h('strong', {}, 'API token needed. '),
      this.reason,
      ' Open the URL the server printed (it ends in #token=…) or paste the token here.',
    );
    this.input = h('input', {
      id: 'auth-token',
      type: 'password',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'paste the token',
      testid: 'auth-token',
    });
    this.append(
      this.message,
      h(
        'form',
        { class: 'auth-form', testid: 'auth-form', onsubmit: (event) => this.#save(event) },
        h('label', { for: 'auth-token' }, 'API token'),
        this.input,
        h('button', { type: 'submit', class: 'primary', testid: 'auth-save' }, 'Save token'),
      ),
    );
    on('auth-required', (message) => this.show(message));
    on('token-changed', () => {
      this.hidden = true;
    });
  }

  /** Shows the banner with why the token is needed. */
  show(reason) {
    const text = String(reason || 'The server refused the request.');
    setText(this.reason, /[.!?]$/.test(text) ? text : `${text}.`);
    this.hidden = false;
  }

  #save(event) {
    event.preventDefault();
    const token = this.input.value.trim();
    if (token === '') {
      this.input.focus();
      return;
    }
    this.input.value = '';
    setToken(token);
  }
}

customElements.define('cp-auth-banner', AuthBanner);
