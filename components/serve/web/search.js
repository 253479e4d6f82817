/**
 * The search view: the query and the filters of /search live in the page's URL (`/?q=sofa&max_price=200`),
 * so a link reproduces a view; the three rankings (hybrid, lexical, dense) are asked for at once and
 * shown side by side, each result saying why it is there and where it stands in the other two.
 */
import * as api from './api.js';
import { byId, figure, fill, h, kilometres, pounds } from './dom.js';

/** @typedef {import('./api-types.js').Mode} Mode */
/** @typedef {import('./api-types.js').SearchAnswer} SearchAnswer */
/** @typedef {import('./api-types.js').ResultRow} ResultRow */

/** @type {readonly Mode[]} */
export const MODES = ['hybrid', 'lexical', 'dense'];
/** @type {Record<Mode, string>} */
const MODE_NAMES = { hybrid: 'Hybrid', lexical: 'Lexical (BM25F)', dense: 'Dense (embedding)' };
/** @type {Record<Mode, string>} */
const MODE_LETTERS = { hybrid: 'H', lexical: 'L', dense: 'D' };

/** The page's URL parameters that are /search's own, in the order they are written. */
export const SEARCH_PARAMS = /** @type {const} */ (['q', 'category', 'min_price', 'max_price', 'town', 'near', 'radius_km', 'sort']);
/** Results a column shows. */
const K = 10;

/** @param {string | null} value @returns {value is Mode} */
const isMode = (value) => value === 'hybrid' || value === 'lexical' || value === 'dense';

/**
 * The page URL for a form's values: only what is set, and neither sort=relevance nor mode=all (the defaults).
 * @param {HTMLFormElement} form
 * @returns {string}
 */
export function urlOfForm(form) {
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const name of SEARCH_PARAMS) {
    const value = String(data.get(name) ?? '').trim();
    if (value && !(name === 'sort' && value === 'relevance')) params.set(name, value);
  }
  const mode = String(data.get('mode') ?? 'all');
  if (isMode(mode)) params.set('mode', mode);
  const query = params.toString();
  return query ? `/?${query}` : '/';
}

/**
 * Puts the URL's values into the form (a link or the back button brings the form along).
 * @param {HTMLFormElement} form
 * @param {URLSearchParams} params
 */
function fillForm(form, params) {
  for (const name of SEARCH_PARAMS) {
    const field = form.elements.namedItem(name);
    if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) {
      field.value = params.get(name) ?? (name === 'sort' ? 'relevance' : '');
      field.removeAttribute('aria-invalid');
      field.removeAttribute('aria-describedby');
    }
  }
  const set = SEARCH_PARAMS.filter(
    (name) => name !== 'q' && params.get(name) && !(name === 'sort' && params.get(name) === 'relevance'),
  ).length;
  byId('filters-set', HTMLElement).textContent = set > 0 ? `(${set} set)` : '';
  const mode = params.get('mode');
  for (const radio of form.querySelectorAll('input[name="mode"]')) {
    if (radio instanceof HTMLInputElement) radio.checked = radio.value === (isMode(mode) ? mode : 'all');
  }
}

/** @type {AbortController | null} */
let inFlight = null;

/**
 * Renders the search view for a URL: the form from its parameters, then the three rankings when it has a query.
 * @param {URL} url
 * @param {{ showError(error: unknown, form?: HTMLFormElement): void; clearError(): void }} page
 */
export async function renderSearch(url, page) {
  const form = byId('search-form', HTMLFormElement);
  const columns = byId('columns', HTMLElement);
  const summary = byId('overlap-summary', HTMLElement);
  fillForm(form, url.searchParams);
  const q = (url.searchParams.get('q') ?? '').trim();
  const modeParam = url.searchParams.get('mode');
  const shown = isMode(modeParam) ? [modeParam] : MODES;
  document.title = q ? `${q} – marketplace search` : 'Marketplace search';
  inFlight?.abort();
  if (!q) {
    fill(summary);
    fill(columns, h('p', { class: 'hint' }, 'Type a query to see the hybrid, lexical and dense rankings side by side.'));
    return;
  }
  const controller = new AbortController();
  inFlight = controller;
  columns.setAttribute('aria-busy', 'true');
  const params = new URLSearchParams();
  for (const name of SEARCH_PARAMS) {
    const value = url.searchParams.get(name);
    if (value) params.set(name, value);
  }
  params.set('k', String(K));
  try {
    // All three, whichever are shown: a result's place in the others is part of why it is where it is.
    /** @param {Mode} mode */
    const ask = (mode) => {
      const asked = new URLSearchParams(params);
      asked.set('mode', mode);
      return api.search(asked, controller.signal);
    };
    const [hybrid, lexical, dense] = await Promise.all([ask('hybrid'), ask('lexical'), ask('dense')]);
    if (controller.signal.aborted) return;
    page.clearError();
    /** @type {Record<Mode, SearchAnswer>} */
    const byMode = { hybrid, lexical, dense };
    /** @type {Record<Mode, Map<string, number>>} */
    const ranks = { hybrid: rankMap(byMode.hybrid), lexical: rankMap(byMode.lexical), dense: rankMap(byMode.dense) };
    fill(summary, overlapSummary(ranks, byMode.hybrid));
    fill(
      columns,
      shown.map((mode) => column(mode, byMode[mode], ranks)),
    );
    columns.classList.toggle('single', shown.length === 1);
  } catch (error) {
    if (controller.signal.aborted) return;
    fill(summary);
    fill(columns);
    page.showError(error, form);
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      columns.removeAttribute('aria-busy');
    }
  }
}

/** @param {SearchAnswer} answer */
function rankMap(answer) {
  return new Map(answer.results.map((row, i) => [row.id, i + 1]));
}

/**
 * @param {Record<Mode, Map<string, number>>} ranks
 * @param {SearchAnswer} hybrid
 */
function overlapSummary(ranks, hybrid) {
  /** @param {Mode} a @param {Mode} b */
  const shared = (a, b) => [...ranks[a].keys()].filter((id) => ranks[b].has(id)).length;
  const all = [...ranks.hybrid.keys()].filter((id) => ranks.lexical.has(id) && ranks.dense.has(id)).length;
  const filters = hybrid.filters;
  const applied = filters
    ? [
        filters.category && `category ${filters.category}`,
        filters.minPriceMinor !== null && `from ${pounds(filters.minPriceMinor)}`,
        filters.maxPriceMinor !== null && `up to ${pounds(filters.maxPriceMinor)}`,
        filters.place &&
          (filters.radiusKm !== null ? `within ${filters.radiusKm} km of ${filters.place}` : `distances from ${filters.place}`),
        hybrid.sort !== 'relevance' && `sorted by ${hybrid.sort.replace('_', ' ')}`,
      ].filter(Boolean)
    : [];
  return [
    h(
      'p',
      {},
      h('strong', {}, 'Overlap of the top ', String(K), ': '),
      `all three ${all} · hybrid & lexical ${shared('hybrid', 'lexical')} · hybrid & dense ${shared('hybrid', 'dense')} · lexical & dense ${shared('lexical', 'dense')}`,
    ),
    applied.length > 0 ? h('p', { class: 'applied' }, 'Filters: ', applied.join(' · ')) : null,
  ];
}

/**
 * @param {Mode} mode
 * @param {SearchAnswer} answer
 * @param {Record<Mode, Map<string, number>>} ranks
 */
function column(mode, answer, ranks) {
  const headingId = `column-${mode}-heading`;
  return h(
    'section',
    { class: `column column-${mode}`, 'aria-labelledby': headingId, 'data-mode': mode },
    h(
      'h2',
      { id: headingId },
      MODE_NAMES[mode],
      ' ',
      h('span', { class: 'meta' }, `${answer.results.length} results · ${answer.tookMs.toFixed(0)} ms`),
    ),
    answer.notes.map((note) => h('p', { class: 'note' }, note)),
    answer.results.length === 0
      ? h('p', { class: 'empty' }, 'No listing passes the filters.')
      : h(
          'ol',
          { class: 'results' },
          answer.results.map((row, i) => result(mode, row, i + 1, ranks)),
        ),
  );
}

/**
 * @param {Mode} mode
 * @param {ResultRow} row
 * @param {number} rank
 * @param {Record<Mode, Map<string, number>>} ranks
 */
function result(mode, row, rank, ranks) {
  const inModes = MODES.filter((m) => ranks[m].has(row.id));
  const others = MODES.filter((m) => m !== mode);
  const { why } = row;
  const titleTerms = new Set(why.titleTerms ?? []);
  const matched = why.matchedTerms ?? [];
  const overlapText = others.map((m) => (ranks[m].has(row.id) ? `${m} #${ranks[m].get(row.id)}` : `not in ${m}`)).join(', ');
  return h(
    'li',
    { class: `result in-${inModes.length}`, 'data-id': row.id, 'data-rank': rank },
    h(
      'div',
      { class: 'result-head' },
      h('span', { class: 'rank', 'aria-hidden': 'true' }, String(rank)),
      h('a', { class: 'title', href: `/listings/${encodeURIComponent(row.id)}` }, row.title),
    ),
    h(
      'p',
      { class: 'facts' },
      h('span', { class: 'price' }, pounds(row.priceMinor)),
      h('span', { class: 'town' }, row.town ?? 'no town'),
      why.distanceKm !== null && why.distanceKm !== undefined ? h('span', { class: 'distance' }, kilometres(why.distanceKm)) : null,
      h('span', { class: 'category' }, row.category),
    ),
    h(
      'p',
      { class: 'why' },
      matched.length > 0
        ? h(
            'span',
            { class: 'terms' },
            'matched ',
            matched.map((term) =>
              h(
                titleTerms.has(term) ? 'strong' : 'span',
                { class: 'term', title: titleTerms.has(term) ? 'in the title' : 'in the text or category' },
                term,
              ),
            ),
          )
        : h('span', { class: 'terms none' }, 'no query term'),
      why.denseSimilarity !== undefined ? h('span', { class: 'similarity' }, `cosine ${figure(why.denseSimilarity)}`) : null,
      why.lexicalScore !== null && why.lexicalScore !== undefined
        ? h('span', { class: 'bm25' }, `BM25F ${why.lexicalScore.toFixed(2)}`)
        : null,
    ),
    h(
      'p',
      { class: 'overlap' },
      h('span', { class: 'visually-hidden' }, `Also: ${overlapText}.`),
      MODES.map((m) =>
        h(
          'span',
          {
            class: `badge ${ranks[m].has(row.id) ? 'on' : 'off'}${m === mode ? ' self' : ''}`,
            title: ranks[m].has(row.id) ? `${m}: #${ranks[m].get(row.id)}` : `not in ${m}'s top ${K}`,
            'aria-hidden': 'true',
          },
          `${MODE_LETTERS[m]} ${ranks[m].get(row.id) ?? '–'}`,
        ),
      ),
    ),
  );
}

/**
 * Wires the form (submit and the mode switch go to the URL) and the cross-column highlight.
 * @param {(url: string) => void} navigate
 */
export function setUpSearch(navigate) {
  const form = byId('search-form', HTMLFormElement);
  // On a phone the filters start folded (their summary says how many are set): the results come first.
  if (window.matchMedia('(max-width: 640px)').matches) byId('filters-box', HTMLDetailsElement).open = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    navigate(urlOfForm(form));
  });
  // The mode switch applies at once (a radio group: arrow keys move through it).
  form.addEventListener('change', (event) => {
    if (event.target instanceof HTMLInputElement && event.target.name === 'mode') navigate(urlOfForm(form));
  });
  byId('clear-filters', HTMLButtonElement).addEventListener('click', () => {
    for (const name of SEARCH_PARAMS) {
      if (name === 'q') continue;
      const field = form.elements.namedItem(name);
      if (field instanceof HTMLInputElement || field instanceof HTMLSelectElement) field.value = name === 'sort' ? 'relevance' : '';
    }
    navigate(urlOfForm(form));
  });

  // Pointing at (or tabbing to) a result marks the same listing in the other columns.
  const columns = byId('columns', HTMLElement);
  /** @param {EventTarget | null} target @param {boolean} on */
  const link = (target, on) => {
    const item = target instanceof Element ? target.closest('li.result') : null;
    const id = item instanceof HTMLElement ? item.dataset['id'] : undefined;
    if (!id) return;
    for (const same of columns.querySelectorAll('li.result')) {
      if (same instanceof HTMLElement && same.dataset['id'] === id) same.classList.toggle('linked', on);
    }
  };
  columns.addEventListener('mouseover', (event) => link(event.target, true));
  columns.addEventListener('mouseout', (event) => link(event.target, false));
  columns.addEventListener('focusin', (event) => link(event.target, true));
  columns.addEventListener('focusout', (event) => link(event.target, false));
}
