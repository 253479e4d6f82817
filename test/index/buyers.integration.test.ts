/** The generated buyer population: reproducible, plausible, consistent with the catalogue, stored idempotently. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { distanceKm, seededRandom } from '../../components/core/platform/index.js';
import type { SnapshotProduct } from '../../components/core/contracts/index.js';
import { AGE_BANDS, generateBuyers, storeBuyers } from '../../components/index/buyers.js';
import { databaseBackends, storeBackends, suiteStorage } from '../helpers.js';

const ROOTS = ['Appliances', 'Baby & Kids Stuff', 'Home & Garden', 'Video Games & Consoles', 'DIY Tools & Materials'];
const PLACES: [string, string, number, number][] = [
  ['Leeds', 'West Yorkshire', 53.8, -1.55],
  ['Bristol', 'Bristol', 51.45, -2.59],
  ['Norwich', 'Norfolk', 52.63, 1.3],
];

function catalogue(count: number): SnapshotProduct[] {
  const next = seededRandom(3);
  return Array.from({ length: count }, (_, i) => {
    const place = PLACES[i % PLACES.length]!;
    return {
      id: `p${i}`,
      title: `item ${i}`,
      text: `item ${i}`,
      root: ROOTS[Math.floor(next() * ROOTS.length)]!,
      path: [],
      priceMinor: Math.round(100 + next() * 50_000),
      town: place[0],
      county: place[1],
      latitude: place[2],
      longitude: place[3],
      images: [],
    };
  });
}

describe('buyers', () => {
  const products = catalogue(600);
  const byId = new Map(products.map((p) => [p.id, p]));

  it('are the same for the same catalogue and seed, and different for another seed', () => {
    const a = generateBuyers(products, { count: 50, snapshotId: 's1' });
    assert.deepEqual(generateBuyers(products, { count: 50, snapshotId: 's1' }), a);
    assert.notDeepEqual(generateBuyers(products, { count: 50, snapshotId: 's1', seed: 8 }), a);
  });

  it('view listings in their interests and price band, live near listed places, and follow the age mix', () => {
    const buyers = generateBuyers(products, { count: 2000, snapshotId: 's1' });
    for (const buyer of buyers) {
      assert.ok(Math.abs(Object.values(buyer.interests).reduce((a, b) => a + b, 0) - 1) < 1e-9, 'interest weights sum to 1');
      assert.ok(buyer.viewed.length > 0);
      for (const id of buyer.viewed) {
        const product = byId.get(id)!;
        assert.ok(product.root in buyer.interests, `${buyer.id} viewed ${id} outside its interests`);
        assert.ok(product.priceMinor >= buyer.price_min && product.priceMinor <= buyer.price_max);
      }
      assert.ok(
        PLACES.some(([, , lat, lon]) => Math.abs(buyer.latitude - lat) < 0.05 && Math.abs(buyer.longitude - lon) < 0.1),
        'home near a listing place',
      );
    }
    const young = buyers.filter((b) => b.age_band === '18-24').length / buyers.length;
    assert.ok(young > 0.12 && young < 0.2, `18-24 share ${young}`);
    assert.deepEqual([...new Set(buyers.map((b) => b.age_band))].sort(), [...AGE_BANDS].sort());
    // Age leanings show: the young follow video games more than the over-65s do.
    const share = (band: string) => {
      const group = buyers.filter((b) => b.age_band === band);
      return group.filter((b) => 'Video Games & Consoles' in b.interests).length / group.length;
    };
    assert.ok(share('18-24') > 2 * share('65+'), `video games: 18-24 ${share('18-24')}, 65+ ${share('65+')}`);
  });

  it('view nearer listings more often than their interests and price band alone would give', () => {
    const buyers = generateBuyers(products, { count: 600, snapshotId: 's1' });
    let viewedKm = 0;
    let viewedCount = 0;
    let eligibleKm = 0;
    let eligibleCount = 0;
    for (const buyer of buyers) {
      const home = { lat: buyer.latitude, lon: buyer.longitude };
      const km = (p: SnapshotProduct) => distanceKm(home, { lat: p.latitude ?? 0, lon: p.longitude ?? 0 });
      for (const id of buyer.viewed) {
        viewedKm += km(byId.get(id)!);
        viewedCount++;
      }
      for (const p of products)
        if (p.root in buyer.interests && p.priceMinor >= buyer.price_min && p.priceMinor <= buyer.price_max) {
          eligibleKm += km(p);
          eligibleCount++;
        }
    }
    // Three places 150-300 km apart: uniform views would average ~150 km away, distance-weighted ones far less.
    const viewedMean = viewedKm / viewedCount;
    const eligibleMean = eligibleKm / eligibleCount;
    assert.ok(viewedMean < 0.6 * eligibleMean, `viewed ${viewedMean.toFixed(0)} km away, eligible ${eligibleMean.toFixed(0)} km`);
  });

  it('refuse a catalogue with no located listing', () => {
    assert.throws(
      () =>
        generateBuyers(
          products.map((p) => ({ ...p, latitude: null, longitude: null })),
          { count: 1, snapshotId: 's' },
        ),
      /no located listings/,
    );
  });

  describe('stored', () => {
    const storage = suiteStorage(databaseBackends[1]!, storeBackends[1]!);
    it('idempotently: the same population twice rewrites nothing', async () => {
      const buyers = generateBuyers(products, { count: 300, snapshotId: 's1' });
      assert.deepEqual(await storeBuyers(storage.db, buyers, 128), { inserted: 300, updated: 0, unchanged: 0 });
      assert.deepEqual(await storeBuyers(storage.db, buyers, 128), { inserted: 0, updated: 0, unchanged: 300 });
      const row = await storage.db.query<{ interests: Record<string, number>; viewed: string[] }>(
        "SELECT interests, viewed FROM buyers WHERE id = 'buyer-000000'",
      );
      assert.deepEqual(row.rows[0]?.viewed, buyers[0]?.viewed);
    });
  });
});
