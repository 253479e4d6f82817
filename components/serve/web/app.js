/**
 * The search page's entry: the header (versions served, evaluation figures, reports), the router
 * between the search view (`/`) and a listing (`/listings/<id>`) on the History API, and the error
 * line. The header follows a hot swap: every answer names its model and index, and /about is polled.
 */
import * as api from './api.js';
import { byId, figure, fill, h } from './dom.js';
import { listingId, renderListing } from './listing.js';
import { renderSearch, setUpSearch } from './search.js';

/** @typedef {import('./api-types.js').About} About */

/** How often the header asks which version is served, ms. */
const POLL_MS = 10_000;

/** The versions in the header, to notice a swap from any answer. */
let shown = { model: '', index: '' };
/** The last search URL, for "back to the search". */
let lastSearch = '/';

/** @param {unknown} error @param {HTMLFormElement} [form] */
function showError(error, form) {
  const alert = byId('alert', HTMLElement);
  const message = error instanceof Error ? error.message : String(error);
  fill(alert, h('strong', {}, error instanceof api.ApiError && error.status < 500 ? 'Not searched: ' : 'Something failed: '), message);
  alert.hidden = false;
  if (form && error instanceof api.ApiError && error.parameter) {
    const field = form.elements.namedItem(error.parameter);
    if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) {
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-describedby', 'alert');
    }
  }
}

function clearError() {
  const alert = byId('alert', HTMLElement);
  alert.hidden = true;
  fill(alert);
}

/** @param {About} about */
function renderHeader(about) {
  shown = { model: about.model, index: about.index };
  const loaded = new Date(about.loadedAt);
  fill(
    byId('versions', HTMLElement),
    h('span', { class: 'version' }, 'model ', h('code', { id: 'model-version' }, about.model)),
    h('span', { class: 'version' }, 'index ', h('code', { id: 'index-version' }, about.index)),
    h(
      'span',
      { class: 'loaded' },
      `serving since ${loaded.toLocaleTimeString('en-GB')} · ${about.products ?? '?'} listings · ${about.buyers ?? '?'} buyers`,
    ),
  );
  const evaluation = about.evaluation;
  fill(
    byId('figures', HTMLElement),
    evaluation
      ? [
          h(
            'ul',
            { class: 'figures', 'aria-label': `Evaluation of model ${about.model} on ${evaluation.testProducts} held-out listings` },
            evaluation.figures.map((f) =>
              h(
                'li',
                { 'data-metric': f.metric },
                h('span', { class: 'label' }, f.label),
                ' ',
                h('span', { class: 'value' }, figure(f.value)),
              ),
            ),
          ),
        ]
      : h('p', { class: 'no-evaluation' }, `No evaluation recorded for model ${about.model}.`),
  );
  /** @type {[keyof About['reports'], string][]} */
  const reports = [
    ['eda', 'EDA'],
    ['evaluation', 'Evaluation'],
    ['training', 'Training'],
  ];
  fill(
    byId('reports', HTMLElement),
    h(
      'ul',
      {},
      reports.map(([kind, name]) => {
        const href = about.reports[kind];
        return h(
          'li',
          {},
          href
            ? h('a', { href, target: '_blank', rel: 'noopener' }, `${name} report`)
            : h('span', { class: 'missing', title: `no ${name} report in the artifact store` }, `${name} report (none)`),
        );
      }),
    ),
  );
  const options = byId('categories', HTMLDataListElement);
  fill(
    options,
    about.categories.map((category) => h('option', { value: category })),
  );
}

async function refreshHeader() {
  try {
    renderHeader(await api.about());
  } catch (error) {
    // Not ready (503) while a first version loads: the header says so, the next poll tries again.
    fill(byId('versions', HTMLElement), h('span', { class: 'version' }, error instanceof Error ? error.message : String(error)));
  }
}

/** Renders the view the current URL names. */
async function route() {
  const url = new URL(window.location.href);
  const id = listingId(url);
  const searchView = byId('search-view', HTMLElement);
  const listingView = byId('listing-view', HTMLElement);
  searchView.hidden = id !== null;
  listingView.hidden = id === null;
  if (id === null) {
    lastSearch = url.pathname + url.search;
    await renderSearch(url, { showError, clearError });
  } else {
    await renderListing(url, id, { showError, clearError, navigate, backToSearch });
  }
}

/** @param {string} target */
function navigate(target) {
  if (target !== window.location.pathname + window.location.search) window.history.pushState(null, '', target);
  void route();
}

function backToSearch() {
  navigate(lastSearch);
}

function start() {
  setUpSearch(navigate);
  // Links inside the page change the view without a reload (a modified click still opens a tab).
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = event.target instanceof Element ? event.target.closest('a') : null;
    if (!(anchor instanceof HTMLAnchorElement) || anchor.target || anchor.origin !== window.location.origin) return;
    if (anchor.pathname !== '/' && !anchor.pathname.startsWith('/listings/')) return;
    event.preventDefault();
    navigate(anchor.pathname + anchor.search);
  });
  window.addEventListener('popstate', () => void route());
  api.onVersions((versions) => {
    if (shown.model && (versions.model !== shown.model || versions.index !== shown.index)) void refreshHeader();
  });
  void refreshHeader();
  window.setInterval(() => {
    if (document.visibilityState === 'visible') void refreshHeader();
  }, POLL_MS);
  void route();
}

start();
