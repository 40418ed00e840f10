// <cp-ws-state>: the event stream's state, 'live' or 'reconnecting' (data-testid="ws-state"),
// with the reason and the next retry in its tooltip.
import { on } from '../bus.js';
import { setText } from '../dom.js';

class WsState extends HTMLElement {
  connectedCallback() {
    if (this.dataset.testid) return;
    this.setAttribute('data-testid', 'ws-state');
    this.setAttribute('role', 'status');
    this.update({ state: 'reconnecting', detail: 'connecting…' });
    on('ws-state', (value) => this.update(value));
  }

  update({ state, detail }) {
    this.dataset.state = state;
    this.title = detail ?? '';
    this.setAttribute('aria-label', `Live events: ${state}${detail ? ` (${detail})` : ''}`);
    setText(this, state);
  }
}

customElements.define('cp-ws-state', WsState);
