/**
 * The listing view (`/listings/<id>`, `?radius_km=` for the buyers' radius): the listing's fields and
 * picture, the buyers the recommender picks for it with their reasons, on a map of their homes and
 * the listing, and the listings most like it.
 */
import * as api from './api.js';
import { byId, figure, fill, h, kilometres, pounds } from './dom.js';
import { buyersMap } from './map.js';

/** @typedef {import('./api-types.js').ProductDetail} ProductDetail */
/** @typedef {import('./api-types.js').BuyersAnswer} BuyersAnswer */
/** @typedef {import('./api-types.js').BuyerMatch} BuyerMatch */
/** @typedef {import('./api-types.js').PageAnswer} PageAnswer */

const RADII = [10, 25, 50, 100, 250];
const DEFAULT_RADIUS = 50;
const BUYERS = 10;
const SIMILAR = 6;

/** @param {URL} url */
export const listingId = (url) => {
  const match = /^\/listings\/([^/]+)$/.exec(url.pathname);
  return match ? decodeURIComponent(match[1] ?? '') : null;
};

/** @type {AbortController | null} */
let inFlight = null;

/**
 * @param {URL} url
 * @param {string} id
 * @param {{ showError(error: unknown): void; clearError(): void; navigate(url: string): void; backToSearch(): void }} page
 */
export async function renderListing(url, id, page) {
  const view = byId('listing-view', HTMLElement);
  const asked = Number(url.searchParams.get('radius_km'));
  const radiusKm = RADII.includes(asked) ? asked : DEFAULT_RADIUS;
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  view.setAttribute('aria-busy', 'true');
  try {
    const [{ product }, buyers, similar, outline] = await Promise.all([
      api.product(id, controller.signal),
      api.buyers(id, { k: BUYERS, radiusKm }, controller.signal),
      api.similar(id, SIMILAR, controller.signal),
      api.ukOutline(),
    ]);
    if (controller.signal.aborted) return;
    page.clearError();
    document.title = `${product.title} – marketplace search`;
    const heading = h('h2', { id: 'listing-title', tabindex: '-1' }, product.title);
    fill(
      view,
      h('p', {}, h('a', { href: '/', class: 'back', id: 'back-to-search' }, '← Back to the search')),
      h(
        'article',
        { class: 'listing', 'aria-labelledby': 'listing-title', 'data-id': product.id },
        heading,
        h('div', { class: 'listing-grid' }, fields(product), buyersMapFigure(product, buyers, outline)),
        buyersSection(product, buyers, radiusKm, page),
        similarSection(similar),
      ),
    );
    byId('back-to-search', HTMLAnchorElement).addEventListener('click', (event) => {
      event.preventDefault();
      page.backToSearch();
    });
    heading.focus();
  } catch (error) {
    if (controller.signal.aborted) return;
    fill(view, h('p', {}, h('a', { href: '/' }, '← Back to the search')));
    page.showError(error);
  } finally {
    if (inFlight === controller) {
      inFlight = null;
      view.removeAttribute('aria-busy');
    }
  }
}

/** @param {ProductDetail} product */
function fields(product) {
  const place = [product.town, product.county].filter(Boolean).join(', ') || 'unknown';
  const coordinates =
    product.latitude !== null && product.longitude !== null ? `${product.latitude.toFixed(4)}, ${product.longitude.toFixed(4)}` : 'none';
  /** @type {[string, string][]} */
  const rows = [
    ['Price', pounds(product.priceMinor)],
    ['Category', product.path.join(' / ')],
    ['Place', place],
    ['Coordinates', coordinates],
    [
      'Listed',
      product.listedAt
        ? new Date(product.listedAt).toLocaleDateString('en-GB', { year: 'numeric', month: 'short', day: 'numeric' })
        : 'unknown',
    ],
    ['Listing id', product.id],
  ];
  return h(
    'div',
    { class: 'fields' },
    product.hasImage
      ? h('img', {
          src: `/products/${encodeURIComponent(product.id)}/image`,
          alt: `Picture of ${product.title}`,
          width: 160,
          height: 160,
          class: 'picture',
        })
      : null,
    h(
      'dl',
      {},
      rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
    ),
  );
}

/**
 * @param {ProductDetail} product
 * @param {BuyersAnswer} answer
 * @param {import('./api-types.js').Outline} outline
 */
function buyersMapFigure(product, answer, outline) {
  if (product.latitude === null || product.longitude === null) return h('p', { class: 'note' }, 'This listing has no place: no map.');
  const located = answer.results.flatMap((buyer, i) =>
    buyer.latitude !== undefined && buyer.longitude !== undefined
      ? [
          {
            lat: buyer.latitude,
            lon: buyer.longitude,
            label: `Buyer ${i + 1}: ${buyer.town ?? 'no town'}${buyer.distanceKm !== null ? `, ${kilometres(buyer.distanceKm)} away` : ''}`,
          },
        ]
      : [],
  );
  const label = `Map: the listing in ${product.town ?? 'an unnamed place'} and the homes of ${located.length} buyers within ${answer.radiusKm} km`;
  const map = buyersMap({
    listing: { lat: product.latitude, lon: product.longitude, label: `The listing: ${product.title}` },
    buyers: located,
    radiusKm: answer.distanceFilter ? answer.radiusKm : null,
    outline,
    label,
  });
  return h(
    'figure',
    { class: 'map-figure' },
    map.element,
    h(
      'figcaption',
      {},
      h('span', { class: 'key key-listing', 'aria-hidden': 'true' }),
      ' the listing · ',
      h('span', { class: 'key key-buyer', 'aria-hidden': 'true' }),
      ' a buyer (numbered as in the table) · dashed circle: the ',
      String(answer.radiusKm),
      ' km radius',
      map.radiusInFrame ? '' : ' (past this frame: every buyer lives closer)',
      '. Inset: where the frame lies in the UK. Coastline: Natural Earth.',
    ),
  );
}

/**
 * @param {ProductDetail} product
 * @param {BuyersAnswer} answer
 * @param {number} radiusKm
 * @param {{ navigate(url: string): void }} page
 */
function buyersSection(product, answer, radiusKm, page) {
  const select = h(
    'select',
    { id: 'radius', name: 'radius_km' },
    RADII.map((km) => h('option', { value: km, selected: km === radiusKm }, `${km} km`)),
  );
  select.addEventListener('change', () => page.navigate(`/listings/${encodeURIComponent(product.id)}?radius_km=${select.value}`));
  return h(
    'section',
    { class: 'buyers', 'aria-labelledby': 'buyers-heading' },
    h('h3', { id: 'buyers-heading' }, 'Buyers the recommender picks'),
    h(
      'p',
      { class: 'radius-choice' },
      h('label', { for: 'radius' }, 'Within '),
      select,
      ` of the listing · ${answer.results.length} buyers`,
    ),
    (answer.notes ?? []).map((note) => h('p', { class: 'note' }, note)),
    answer.results.length === 0
      ? h('p', { class: 'empty' }, 'No buyer within the radius has this price in their band.')
      : h(
          'div',
          { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Buyers (scrolls sideways on a narrow screen)' },
          h(
            'table',
            { class: 'buyers-table' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['#', 'Buyer', 'Home', 'Distance', 'Interest', 'Why'].map((name) => h('th', { scope: 'col' }, name)),
              ),
            ),
            h(
              'tbody',
              {},
              answer.results.map((buyer, i) => buyerRow(buyer, i + 1)),
            ),
          ),
        ),
  );
}

/**
 * @param {BuyerMatch} buyer
 * @param {number} n
 */
function buyerRow(buyer, n) {
  return h(
    'tr',
    { 'data-buyer': n },
    // data-label: the column's name, shown beside each cell where a narrow screen stacks the rows.
    h('td', { 'data-label': '#' }, String(n)),
    h('td', { 'data-label': 'Buyer' }, `${buyer.ageBand}, ${buyer.gender}`, ' ', h('small', {}, buyer.id)),
    h('td', { 'data-label': 'Home' }, buyer.town ?? '—'),
    h('td', { 'data-label': 'Distance' }, buyer.distanceKm === null ? '—' : kilometres(buyer.distanceKm)),
    h('td', { 'data-label': 'Interest' }, figure(buyer.interestSimilarity)),
    h(
      'td',
      { 'data-label': 'Why' },
      h(
        'ul',
        { class: 'reasons' },
        buyer.reasons.map((reason) => h('li', {}, reason)),
      ),
    ),
  );
}

/** @param {PageAnswer} answer */
function similarSection(answer) {
  return h(
    'section',
    { class: 'similar', 'aria-labelledby': 'similar-heading' },
    h('h3', { id: 'similar-heading' }, 'Similar listings'),
    answer.results.length === 0
      ? h('p', { class: 'empty' }, 'None.')
      : h(
          'ol',
          { class: 'similar-list' },
          answer.results.map((row) =>
            h(
              'li',
              {},
              h('a', { href: `/listings/${encodeURIComponent(row.id)}` }, row.title),
              ' ',
              h(
                'span',
                { class: 'facts' },
                `${pounds(row.priceMinor)} · ${row.town ?? 'no town'} · cosine ${figure(row.why.denseSimilarity ?? 0)}`,
              ),
            ),
          ),
        ),
  );
}
