/**
 * An offline map of a listing and its buyers: SVG over the UK outline the service ships
 * (uk-outline.json, from Natural Earth), no tiles. The view centres the listing and frames every
 * buyer (3:2, at least 30 km across; the radius circle may run past it), with the whole UK in an inset
 * that marks the frame. The projection is equirectangular with the longitude scaled by the cosine of
 * the middle latitude, which keeps distances true to a few per cent across a view this size.
 */
import { s } from './dom.js';

/** @typedef {import('./api-types.js').Outline} Outline */

/** The drawing's width in SVG units (its height follows the view's shape). */
const WIDTH = 600;
const KM_PER_DEGREE = 111.32;
/** The main view's width over its height. */
const ASPECT = 1.5;

/**
 * @typedef {{ lat: number; lon: number; label: string }} Marker
 * @typedef {{ listing: Marker; buyers: Marker[]; radiusKm: number | null; outline: Outline; label: string }} MapInput
 */

/**
 * @typedef {{ minLon: number; maxLon: number; minLat: number; maxLat: number }} Box
 * @typedef {{ project(lon: number, lat: number): [number, number]; height: number; scale: number }} Projection
 */

/** The UK and Ireland, for the overview inset. */
const UK_BOX = { minLon: -10.7, maxLon: 2.1, minLat: 49.8, maxLat: 60.95 };

/**
 * Equirectangular, longitude scaled by the cosine of the box's middle latitude, `width` units wide.
 * @param {Box} box
 * @param {number} width
 * @returns {Projection}
 */
function projection(box, width) {
  const cos = Math.cos((((box.minLat + box.maxLat) / 2) * Math.PI) / 180);
  const scale = width / ((box.maxLon - box.minLon) * cos);
  return {
    project: (lon, lat) => [(lon - box.minLon) * cos * scale, (box.maxLat - lat) * scale],
    height: Math.round((box.maxLat - box.minLat) * scale),
    scale,
  };
}

/**
 * The outline's rings as one SVG path per country.
 * @param {Outline} outline
 * @param {Projection} view
 * @param {string} extraClass
 */
function land(outline, view, extraClass) {
  return outline.countries.map((country) =>
    s(
      'path',
      {
        class: `land${country.name === 'United Kingdom' ? ' uk' : ''}${extraClass}`,
        d: country.rings
          .map(
            (ring) =>
              `M${ring
                .map(([lon, lat]) =>
                  view
                    .project(lon, lat)
                    .map((v) => v.toFixed(1))
                    .join(','),
                )
                .join('L')}Z`,
          )
          .join(''),
      },
      s('title', {}, country.name),
    ),
  );
}

/**
 * @param {MapInput} input
 * @returns {{ element: SVGElement; radiusInFrame: boolean }} the map, and whether its frame shows the radius circle
 */
export function buyersMap({ listing, buyers, radiusKm, outline, label }) {
  // The frame: the listing at the middle, every buyer in view with a margin, at least 20 km across
  // (buyers often live close by: a frame as wide as the radius would pile them on one spot).
  const cosListing = Math.cos((listing.lat * Math.PI) / 180);
  /** @param {Marker} p */
  const kmFrom = (p) => Math.hypot((p.lat - listing.lat) * KM_PER_DEGREE, (p.lon - listing.lon) * KM_PER_DEGREE * cosListing);
  const furthest = Math.max(0, ...buyers.map(kmFrom));
  // A 3:2 frame: half its width in km, and half its height.
  const halfWidthKm = Math.max(15, furthest * 1.25 * ASPECT, buyers.length === 0 ? (radiusKm ?? 30) * ASPECT : 0);
  const halfHeightKm = halfWidthKm / ASPECT;
  const box = {
    minLat: listing.lat - halfHeightKm / KM_PER_DEGREE,
    maxLat: listing.lat + halfHeightKm / KM_PER_DEGREE,
    minLon: listing.lon - halfWidthKm / (KM_PER_DEGREE * cosListing),
    maxLon: listing.lon + halfWidthKm / (KM_PER_DEGREE * cosListing),
  };
  const view = projection(box, WIDTH);
  const height = view.height;
  const unit = WIDTH / 600;

  const [lx, ly] = view.project(listing.lon, listing.lat);
  const radius =
    radiusKm !== null
      ? s('circle', { class: 'radius', cx: lx.toFixed(1), cy: ly.toFixed(1), r: ((radiusKm / KM_PER_DEGREE) * view.scale).toFixed(1) })
      : null;
  // The best matches drawn last, on top of any they overlap.
  const buyerMarks = buyers.map((buyer, i) => {
    const [x, y] = view.project(buyer.lon, buyer.lat);
    return s(
      'g',
      { class: 'buyer', transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, 'data-buyer': i + 1 },
      s('title', {}, buyer.label),
      s('circle', { r: (10 * unit).toFixed(1) }),
      s('text', { 'text-anchor': 'middle', dy: '0.35em', 'font-size': (11 * unit).toFixed(1) }, String(i + 1)),
    );
  });
  const half = 9 * unit;
  const listingMark = s(
    'g',
    { class: 'listing', transform: `translate(${lx.toFixed(1)},${ly.toFixed(1)})` },
    s('title', {}, listing.label),
    s('rect', { x: -half, y: -half, width: 2 * half, height: 2 * half, transform: 'rotate(45)' }),
  );
  // A scale bar: a round number of km near a fifth of the width.
  const targetKm = (WIDTH / 5 / view.scale) * KM_PER_DEGREE;
  const barKm = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500].reduce(
    (best, km) => (Math.abs(km - targetKm) < Math.abs(best - targetKm) ? km : best),
    1,
  );
  const barLength = (barKm / KM_PER_DEGREE) * view.scale;
  const bar = s(
    'g',
    { class: 'scale-bar', transform: `translate(${12 * unit},${height - 14 * unit})` },
    s('line', { x1: 0, y1: 0, x2: barLength.toFixed(1), y2: 0 }),
    s('text', { x: 0, y: -6 * unit, 'font-size': (13 * unit).toFixed(1) }, `${barKm} km`),
  );
  const element = s(
    'svg',
    { class: 'map', viewBox: `0 0 ${WIDTH} ${height}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' },
    s('rect', { class: 'sea', x: 0, y: 0, width: WIDTH, height }),
    land(outline, view, ''),
    radius,
    [...buyerMarks].reverse(),
    listingMark,
    bar,
    inset(outline, box, listing, unit),
  );
  return { element, radiusInFrame: radiusKm !== null && radiusKm <= halfHeightKm * 1.2 };
}

/**
 * The whole of the UK in a corner, the frame of the main view marked on it.
 * @param {Outline} outline
 * @param {Box} frame
 * @param {Marker} listing
 * @param {number} unit
 */
function inset(outline, frame, listing, unit) {
  const width = 110 * unit;
  const overview = projection(UK_BOX, width);
  const [x0, y0] = overview.project(frame.minLon, frame.maxLat);
  const [x1, y1] = overview.project(frame.maxLon, frame.minLat);
  const [lx, ly] = overview.project(listing.lon, listing.lat);
  const pad = 6 * unit;
  return s(
    'g',
    { class: 'inset', transform: `translate(${WIDTH - width - pad},${pad})` },
    s('rect', { class: 'inset-sea', x: 0, y: 0, width, height: overview.height }),
    land(outline, overview, ' inset-land'),
    s('rect', {
      class: 'inset-frame',
      x: Math.min(x0, lx - 3 * unit).toFixed(1),
      y: Math.min(y0, ly - 3 * unit).toFixed(1),
      width: Math.max(x1 - x0, 6 * unit).toFixed(1),
      height: Math.max(y1 - y0, 6 * unit).toFixed(1),
    }),
  );
}
