/**
 * An offline map of a listing and its buyers: SVG over the UK outline the service ships
 * (uk-outline.json, from Natural Earth), no tiles. The view frames the listing's radius and every
 * buyer; the projection is equirectangular with the longitude scaled by the cosine of the view's
 * middle latitude, which keeps distances true to a few per cent across a view this size.
 */
import { s } from './dom.js';

/** @typedef {import('./api-types.js').Outline} Outline */

/** The drawing's width in SVG units (its height follows the view's shape). */
const WIDTH = 600;
const KM_PER_DEGREE = 111.32;

/**
 * @typedef {{ lat: number; lon: number; label: string }} Marker
 * @typedef {{ listing: Marker; buyers: Marker[]; radiusKm: number | null; outline: Outline; label: string }} MapInput
 */

/**
 * @param {MapInput} input
 * @returns {SVGElement}
 */
export function buyersMap({ listing, buyers, radiusKm, outline, label }) {
  // The box to show: the radius around the listing and every buyer, at least 60 km across, plus a margin.
  const reachKm = Math.max(30, radiusKm ?? 0);
  const points = [listing, ...buyers];
  const cos = Math.cos((listing.lat * Math.PI) / 180);
  let minLat = Math.min(listing.lat - reachKm / KM_PER_DEGREE, ...points.map((p) => p.lat));
  let maxLat = Math.max(listing.lat + reachKm / KM_PER_DEGREE, ...points.map((p) => p.lat));
  let minLon = Math.min(listing.lon - reachKm / (KM_PER_DEGREE * cos), ...points.map((p) => p.lon));
  let maxLon = Math.max(listing.lon + reachKm / (KM_PER_DEGREE * cos), ...points.map((p) => p.lon));
  const marginLat = (maxLat - minLat) * 0.08;
  const marginLon = (maxLon - minLon) * 0.08;
  minLat -= marginLat;
  maxLat += marginLat;
  minLon -= marginLon;
  maxLon += marginLon;
  const scale = WIDTH / ((maxLon - minLon) * cos);
  const height = Math.round((maxLat - minLat) * scale);
  /** @param {number} lon @param {number} lat @returns {[number, number]} */
  const project = (lon, lat) => [(lon - minLon) * cos * scale, (maxLat - lat) * scale];
  const unit = WIDTH / 600;

  const land = outline.countries.map((country) =>
    s(
      'path',
      { class: `land${country.name === 'United Kingdom' ? ' uk' : ''}`, d: country.rings.map((ring) => `M${ring.map(([lon, lat]) => project(lon, lat).map((v) => v.toFixed(1)).join(',')).join('L')}Z`).join('') },
      s('title', {}, country.name),
    ),
  );
  const [lx, ly] = project(listing.lon, listing.lat);
  const radius = radiusKm !== null ? s('circle', { class: 'radius', cx: lx.toFixed(1), cy: ly.toFixed(1), r: ((radiusKm / KM_PER_DEGREE) * scale).toFixed(1) }) : null;
  const buyerMarks = buyers.map((buyer, i) => {
    const [x, y] = project(buyer.lon, buyer.lat);
    return s(
      'g',
      { class: 'buyer', transform: `translate(${x.toFixed(1)},${y.toFixed(1)})`, 'data-buyer': i + 1 },
      s('title', {}, buyer.label),
      s('circle', { r: (9 * unit).toFixed(1) }),
      s('text', { 'text-anchor': 'middle', dy: '0.35em', 'font-size': (10 * unit).toFixed(1) }, String(i + 1)),
    );
  });
  const half = 8 * unit;
  const listingMark = s(
    'g',
    { class: 'listing', transform: `translate(${lx.toFixed(1)},${ly.toFixed(1)})` },
    s('title', {}, listing.label),
    s('rect', { x: -half, y: -half, width: 2 * half, height: 2 * half, transform: 'rotate(45)' }),
  );
  // A scale bar: a round number of km near a fifth of the width.
  const targetKm = (WIDTH / 5 / scale) * KM_PER_DEGREE;
  const barKm = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500].reduce((best, km) => (Math.abs(km - targetKm) < Math.abs(best - targetKm) ? km : best), 1);
  const barLength = (barKm / KM_PER_DEGREE) * scale;
  const bar = s(
    'g',
    { class: 'scale-bar', transform: `translate(${12 * unit},${height - 14 * unit})` },
    s('line', { x1: 0, y1: 0, x2: barLength.toFixed(1), y2: 0 }),
    s('text', { x: 0, y: -5 * unit, 'font-size': (11 * unit).toFixed(1) }, `${barKm} km`),
  );
  return s(
    'svg',
    { class: 'map', viewBox: `0 0 ${WIDTH} ${height}`, role: 'img', 'aria-label': label, preserveAspectRatio: 'xMidYMid meet' },
    s('rect', { class: 'sea', x: 0, y: 0, width: WIDTH, height }),
    land,
    radius,
    buyerMarks,
    listingMark,
    bar,
  );
}
