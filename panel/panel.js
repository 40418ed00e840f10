// Entry point of the core-process web panel: defines the custom elements, wires the tab
// bar, adopts the token from the URL and opens the live event stream.

import { listProcesses } from './api.js';
import { adoptTokenFromHash, getToken } from './auth.js';
import { emit, on, reportError } from './bus.js';
import { EventStream } from './events.js';
import { selectedId } from './store.js';
import './elements/auth-banner.js';
import './elements/error-toast.js';
import './elements/ws-state.js';
import './elements/processes-tab.js';
import './elements/output-tab.js';
import './elements/daemons-tab.js';
import './elements/pipelines-tab.js';
import './elements/cpus-tab.js';

const TABS = ['processes', 'output', 'daemons', 'pipelines', 'cpus'];
let current = null;

// The custom element inside a tab panel (<div id="panel-output"><cp-output>).
const tabElement = (name) => document.getElementById(`panel-${name}`).firstElementChild;

/** Shows one tab panel, hides the others, and tells the panels (activate/deactivate). */
function showTab(name) {
  if (!TABS.includes(name) || name === current) return;
  const previous = current;
  current = name;
  for (const tab of TABS) {
    const button = document.querySelector(`[data-testid="tab-${tab}"]`);
    const panel = document.getElementById(`panel-${tab}`);
    const shown = tab === name;
    button.setAttribute('aria-selected', String(shown));
    button.tabIndex = shown ? 0 : -1;
    panel.hidden = !shown;
  }
  if (previous) tabElement(previous).deactivate?.();
  tabElement(name).activate?.();
}

function wireTabs() {
  const bar = document.querySelector('[role="tablist"]');
  bar.addEventListener('click', (event) => {
    const button = event.target.closest('[role="tab"]');
    if (button) showTab(button.dataset.tab);
  });
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern).
  bar.addEventListener('keydown', (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = TABS[(TABS.indexOf(current) + step + TABS.length) % TABS.length];
    showTab(next);
    document.querySelector(`[data-testid="tab-${next}"]`).focus();
  });
  on('show-tab', showTab);
}

// A refused WebSocket upgrade says nothing about why: one REST call tells (401 -> banner).
async function probeAuth() {
  try {
    await listProcesses();
  } catch (error) {
    // Unreachable is already said by the 'reconnecting' state.
    if (error.status !== 0) reportError(error);
  }
}

function boot() {
  adoptTokenFromHash();
  wireTabs();
  showTab('processes');
  const stream = new EventStream();
  on('select', (id) => stream.setOutputFilter(id));
  stream.setOutputFilter(selectedId());
  on('token-changed', () => {
    stream.restart();
    emit('resync');
  });
  let probing = false;
  on('probe-auth', async () => {
    if (probing) return;
    probing = true;
    await probeAuth();
    probing = false;
  });
  if (getToken()) {
    emit('resync'); // load now; the stream's open loads again to catch up
  } else {
    emit('auth-required', 'No API token yet.');
  }
  stream.start();
}

boot();
