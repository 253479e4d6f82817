/**
 * The field rules of the clean step, as pure functions: each returns a value, or a rule name and a
 * reason that the row is quarantined with. Nothing here touches a database.
 */
import { decodeHTML } from 'entities';

export type Parsed<T> = { ok: true; value: T } | { ok: false; rule: string; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const refuse = <T>(rule: string, reason: string): Parsed<T> => ({ ok: false, rule, reason });

export interface Price {
  /** Whole pence (or cents): integer arithmetic, no float drift. */
  minor: number;
  currency: 'GBP' | 'EUR' | 'USD';
}

const CURRENCY_SIGNS: Record<string, Price['currency']> = { '£': 'GBP', '€': 'EUR', $: 'USD' };

/**
 * `£1,200.00`, `£5`, `1200`, ` £ 3.5 ` to minor units and currency. A price with no sign is taken as
 * pounds (a UK marketplace); a blank, zero, negative or unreadable price is refused.
 */
export function parsePrice(text: string | null): Parsed<Price> {
  const raw = (text ?? '').trim();
  if (raw === '') return refuse('price_missing', 'no price');
  const match = /^(-)?\s*([£€$])?\s*(-)?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?$/.exec(raw);
  if (!match) return refuse('price_unreadable', `price '${raw.slice(0, 40)}' is not an amount`);
  if (match[1] || match[3]) return refuse('price_negative', `price ${raw} is negative`);
  const whole = Number((match[4] ?? '').replace(/,/g, ''));
  const fraction = Number((match[5] ?? '0').padEnd(2, '0'));
  const minor = whole * 100 + fraction;
  if (!Number.isSafeInteger(minor)) return refuse('price_unreadable', `price ${raw} is too large to be an amount`);
  if (minor === 0) return refuse('price_zero', `price ${raw} is zero (free items and "make an offer" listings are not priced)`);
  return ok({ minor, currency: CURRENCY_SIGNS[match[2] ?? '£'] ?? 'GBP' });
}

export interface Category {
  root: string;
  path: string[];
}

/** `Home & Garden / Dining, … / Mirrors` to its root and its levels. */
export function parseCategory(text: string | null): Parsed<Category> {
  const path = (text ?? '')
    .split(' / ')
    .map((level) => level.trim())
    .filter(Boolean);
  const root = path[0];
  if (!root) return refuse('category_missing', 'no category');
  return ok({ root, path });
}

export interface Place {
  town: string | null;
  county: string | null;
}

/** `Town, County` (split on the last comma) or a single token (a Gumtree region such as `London`). */
export function splitLocation(text: string | null): Place {
  const raw = (text ?? '').trim();
  if (!raw) return { town: null, county: null };
  const at = raw.lastIndexOf(', ');
  return at === -1 ? { town: raw, county: null } : { town: raw.slice(0, at).trim() || null, county: raw.slice(at + 2).trim() || null };
}

/** Gumtree appends ` | in Town, County | Gumtree` to every title. */
const TITLE_TAIL = /\s*\|\s*in\s+([^|]*?)\s*\|\s*Gumtree\s*$/i;

/** The title without the site's tail, and the location the tail named. */
export function splitTitle(text: string | null): Parsed<{ title: string; tailLocation: string | null }> {
  const raw = decodeHTML(text ?? '').trim();
  const tail = TITLE_TAIL.exec(raw);
  const title = (tail ? raw.slice(0, tail.index) : raw).trim();
  if (!title) return refuse('title_missing', 'no title');
  return ok({ title, tailLocation: tail?.[1] ?? null });
}

const MONTHS = 'January|February|March|April|May|June|July|August|September|October|November|December';
/**
 * "Posted by Nisha in Dining, … Mirrors in Wokingham. 25 February 2022": site boilerplate that names
 * the category. Its date comes as "25 February 2022", "25. February 2022" or "February 25, 2022", or
 * not at all ("Posted by Sam in Sofas in Leeds.").
 */
const POSTED_BY = new RegExp(
  `Posted by .{0,300}? in .{0,300}?(?:\\d{1,2}\\.? (?:${MONTHS}),? \\d{4}|(?:${MONTHS}) \\d{1,2},? \\d{4})`,
  'gs',
);
const POSTED_BY_UNDATED = /Posted by [^.]{0,200}? in [^.]{0,300}? in [^.]{0,80}\./gs;
// biome-ignore lint/suspicious/noMisleadingCharacterClass: joiners and variation selectors are listed on purpose, to be removed one by one.
const EMOJI = /[\p{Extended_Pictographic}\u{1F1E6}-\u{1F1FF}\u{FE0E}\u{FE0F}\u{200D}\u{20E3}]/gu;
const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;
/** UK numbers: 07700 900123, 07700900123, +44 7700 900123, (0118) 496 0000, 0118-496-0000. */
const PHONE = /(?:\+44\s?\(?0?\)?\s?\d{2,4}|\(?0\d{2,4}\)?)[\s-]?\d{3,4}[\s-]?\d{3,4}\b/g;
const REPEATED_PUNCTUATION = /([!?.,;:*~=_#-])\1{2,}/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/**
 * Text as the model reads it: HTML entities decoded, Unicode normalised (NFKC), emoji and control
 * characters removed, e-mail addresses and phone numbers masked, runs of punctuation cut to one, the
 * site's "Posted by … in <category>" line dropped (it would hand the category to the text model),
 * white space (the export's bare CRs included) collapsed.
 */
export function cleanText(text: string): string {
  return decodeHTML(text)
    .normalize('NFKC')
    .replace(POSTED_BY, ' ')
    .replace(POSTED_BY_UNDATED, ' ')
    .replace(EMOJI, ' ')
    .replace(CONTROL, ' ')
    .replace(EMAIL, ' <email> ')
    .replace(PHONE, ' <phone> ')
    .replace(REPEATED_PUNCTUATION, '$1')
    .replace(/\s+/g, ' ')
    .replace(/ ([.,!?;:])(?=\s|$)/g, '$1') // no space left before punctuation by a mask or a removed emoji
    .trim();
}

/** An ISO date or date-time, or null (the 7-column export has none). */
export function parseTime(text: string | null): string | null {
  const raw = (text ?? '').trim();
  if (!raw) return null;
  const time = Date.parse(raw);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}
