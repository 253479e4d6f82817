/**
 * Writes `web/uk-outline.json`: the search page's offline basemap (the United Kingdom,
 * Ireland, the Isle of Man and the Channel Islands as lon/lat rings), cut from Natural Earth's 1:50m
 * Admin 0 countries (public domain) as the `world-atlas` devDependency ships them (TopoJSON), with
 * the rings simplified (Douglas–Peucker, ~1 km) and rounded to 3 decimals (~100 m). The page draws
 * it as SVG; no tiles, nothing fetched from the internet.
 *
 *   npx tsx components/serve/generate-outline.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';

type Point = [number, number];

const Topology = z.object({
  type: z.literal('Topology'),
  transform: z.object({ scale: z.tuple([z.number(), z.number()]), translate: z.tuple([z.number(), z.number()]) }),
  arcs: z.array(z.array(z.tuple([z.number(), z.number()]))),
  objects: z.object({
    countries: z.object({
      geometries: z.array(
        z.object({
          id: z.string().optional(),
          type: z.string(),
          arcs: z
            .array(z.array(z.array(z.number())))
            .or(z.array(z.array(z.number())))
            .optional(),
          properties: z.object({ name: z.string() }),
        }),
      ),
    }),
  }),
});

/** ISO 3166 numeric codes kept: GB, IE, Isle of Man, Jersey, Guernsey. */
const KEPT = new Set(['826', '372', '833', '832', '831']);
/** Rings entirely outside this box are dropped (the UK's overseas territories). */
const BOX = { minLon: -11, minLat: 49, maxLon: 2.5, maxLat: 61.5 };
/** Douglas–Peucker tolerance, degrees (~1 km). */
const TOLERANCE = 0.01;

function decodeArcs(topology: z.infer<typeof Topology>): Point[][] {
  const [sx, sy] = topology.transform.scale;
  const [tx, ty] = topology.transform.translate;
  return topology.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    return arc.map(([dx, dy]): Point => {
      x += dx;
      y += dy;
      return [x * sx + tx, y * sy + ty];
    });
  });
}

function ring(arcIndexes: number[], arcs: Point[][]): Point[] {
  const out: Point[] = [];
  for (const index of arcIndexes) {
    const arc = index >= 0 ? arcs[index]! : [...arcs[~index]!].reverse();
    // Consecutive arcs share their end point.
    out.push(...(out.length > 0 ? arc.slice(1) : arc));
  }
  return out;
}

function simplify(points: Point[], tolerance: number): Point[] {
  if (points.length <= 4) return points;
  const keep = new Uint8Array(points.length);
  keep[0] = 1;
  keep[points.length - 1] = 1;
  const stack: [number, number][] = [[0, points.length - 1]];
  while (stack.length > 0) {
    const [first, last] = stack.pop()!;
    const [ax, ay] = points[first]!;
    const [bx, by] = points[last]!;
    const length = Math.hypot(bx - ax, by - ay);
    let worst = -1;
    let worstDistance = 0;
    for (let i = first + 1; i < last; i++) {
      const [px, py] = points[i]!;
      const distance = length === 0 ? Math.hypot(px - ax, py - ay) : Math.abs((bx - ax) * (ay - py) - (ax - px) * (by - ay)) / length;
      if (distance > worstDistance) {
        worstDistance = distance;
        worst = i;
      }
    }
    if (worst > 0 && worstDistance > tolerance) {
      keep[worst] = 1;
      stack.push([first, worst], [worst, last]);
    }
  }
  return points.filter((_, i) => keep[i] === 1);
}

const inBox = (points: Point[]) =>
  points.some(([lon, lat]) => lon >= BOX.minLon && lon <= BOX.maxLon && lat >= BOX.minLat && lat <= BOX.maxLat);
const round = (value: number) => Math.round(value * 1000) / 1000;

export function ukOutline(topologyJson: unknown) {
  const topology = Topology.parse(topologyJson);
  const arcs = decodeArcs(topology);
  const countries = topology.objects.countries.geometries
    .filter((geometry) => geometry.id !== undefined && KEPT.has(geometry.id))
    .map((geometry) => {
      const polygons = (geometry.type === 'Polygon' ? [geometry.arcs as number[][]] : (geometry.arcs as number[][][])) ?? [];
      // Outer rings only: at this scale the countries kept have no holes worth drawing.
      const rings = polygons
        .map((polygon) => ring(polygon[0]!, arcs))
        .filter(inBox)
        .map((points) => simplify(points, TOLERANCE).map(([lon, lat]): Point => [round(lon), round(lat)]))
        .filter((points) => points.length >= 4);
      return { name: geometry.properties.name, rings };
    })
    .filter((country) => country.rings.length > 0)
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    source:
      'Natural Earth 1:50m Admin 0 countries (public domain), via the world-atlas npm package (ISC); simplified to ~1 km by components/serve/generate-outline.ts',
    countries,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const require = createRequire(import.meta.url);
  const source = require.resolve('world-atlas/countries-50m.json');
  const outline = ukOutline(JSON.parse(readFileSync(source, 'utf8')));
  const target = path.join(import.meta.dirname, 'web', 'uk-outline.json');
  // One ring a line: small diffs when it is regenerated.
  const body = `{"source":${JSON.stringify(outline.source)},"countries":[\n${outline.countries
    .map((country) => `{"name":${JSON.stringify(country.name)},"rings":[\n${country.rings.map((r) => JSON.stringify(r)).join(',\n')}\n]}`)
    .join(',\n')}\n]}\n`;
  writeFileSync(target, body);
  const points = outline.countries.reduce((sum, country) => sum + country.rings.reduce((s, r) => s + r.length, 0), 0);
  process.stderr.write(
    `wrote ${target}: ${outline.countries.map((c) => `${c.name} (${c.rings.length} rings)`).join(', ')}; ${points} points, ${body.length} bytes\n`,
  );
}
