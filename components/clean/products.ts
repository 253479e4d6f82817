/**
 * One raw listing to a catalogue row, or to quarantine with the rule that caught it.
 */
import type { Gazetteer } from '../core/contracts/index.js';
import type { PriceFence } from './outliers.js';
import { cleanText, parseCategory, parsePrice, parseTime, splitLocation, splitTitle } from './parse.js';

export interface RawProduct {
  id: string;
  product_name: string | null;
  category: string | null;
  product_description: string | null;
  price: string | null;
  location: string | null;
  url: string | null;
  page_id: string | null;
  create_time: string | null;
  content_hash: string;
}

export interface Product {
  id: string;
  raw_hash: string;
  title: string;
  description: string;
  text_clean: string;
  root_category: string;
  category_path: string[];
  price_minor: number;
  currency: string;
  location: string | null;
  town: string | null;
  county: string | null;
  latitude: number | null;
  longitude: number | null;
  location_rule: string | null;
  location_reason: string | null;
  url: string | null;
  page_id: string | null;
  create_time: string | null;
}

export interface Refusal {
  rule: string;
  reason: string;
}

export type CleanedProduct = { ok: true; product: Product } | ({ ok: false } & Refusal);

const MAX_DESCRIPTION = 20_000;

const formatPrice = (minor: number) => `£${(minor / 100).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function cleanProduct(raw: RawProduct, fences: ReadonlyMap<string, PriceFence>, gazetteer: Gazetteer): CleanedProduct {
  const title = splitTitle(raw.product_name);
  if (!title.ok) return title;
  const category = parseCategory(raw.category);
  if (!category.ok) return category;
  const price = parsePrice(raw.price);
  if (!price.ok) return price;
  const fence = fences.get(category.value.root) ?? fences.get('*');
  if (fence && (price.value.minor > fence.maxMinor || price.value.minor < fence.minMinor)) {
    const [side, limit] = price.value.minor > fence.maxMinor ? ['above', fence.maxMinor] : ['below', fence.minMinor];
    return {
      ok: false,
      rule: 'price_outlier',
      reason: `${formatPrice(price.value.minor)} is ${side} the ${category.value.root} range limit of ${formatPrice(limit)} (Tukey fence on log prices of ${fence.basis} listings)`,
    };
  }
  const description = (raw.product_description ?? '').trim();
  if (description.length > MAX_DESCRIPTION) {
    return {
      ok: false,
      rule: 'description_too_long',
      reason: `description of ${description.length} characters (limit ${MAX_DESCRIPTION})`,
    };
  }
  const location = (raw.location ?? title.value.tailLocation ?? '').trim() || null;
  const place = splitLocation(location);
  const found = location ? gazetteer.resolve(location) : ({ ok: false, reason: 'empty', detail: 'no location' } as const);
  return {
    ok: true,
    product: {
      id: raw.id,
      raw_hash: raw.content_hash,
      title: title.value.title,
      description,
      text_clean: cleanText(`${title.value.title}. ${description}`),
      root_category: category.value.root,
      category_path: category.value.path,
      price_minor: price.value.minor,
      currency: price.value.currency,
      location,
      town: place.town,
      county: place.county,
      latitude: found.ok ? found.latitude : null,
      longitude: found.ok ? found.longitude : null,
      location_rule: found.ok ? found.rule : null,
      location_reason: found.ok ? null : `${found.reason}: ${found.detail}`,
      url: raw.url,
      page_id: raw.page_id,
      create_time: parseTime(raw.create_time),
    },
  };
}
