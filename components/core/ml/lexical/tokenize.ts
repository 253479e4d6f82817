/**
 * Words as the lexical index counts them, the same for a listing and for what a buyer types:
 * accents folded, lower case, split on anything that is not a letter or a digit, a short list of
 * English function words dropped, and plurals folded by a small suffix stemmer (a buyer typing
 * "sofas" wants the listing titled "Sofa", "benches" the "bench"). No full Porter stemmer: it
 * conflates too much in listing titles ("cabinet"/"cabin", "general"/"generator") and a miss of
 * that kind is hard to explain in a result's matched terms.
 */

/** Words that carry no product meaning; kept short on purpose ("new", "set", "pair" stay: idf weighs them). */
const STOPWORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'from',
  'has',
  'have',
  'i',
  'in',
  'is',
  'it',
  'its',
  'my',
  'of',
  'on',
  'or',
  'our',
  'so',
  'that',
  'the',
  'this',
  'to',
  'was',
  'we',
  'were',
  'will',
  'with',
  'you',
  'your',
]);

/** Longest token kept: longer runs are hashes, URLs or keyboard mashing, and would bloat the vocabulary. */
const MAX_TOKEN = 40;

/**
 * Plural to singular, conservatively: "-ies" -> "-y" (batteries), "-sses/-shes/-ches/-xes/-zes" lose
 * "es" (dresses, benches, boxes), any other final "s" goes (tables, shoes), except after "s", "u" or
 * "i" (glass, bus, tennis). Words of three letters or fewer are left alone ("gas", "bus", "ps4").
 */
export function stem(word: string): string {
  if (word.length <= 3 || !word.endsWith('s')) return word;
  if (/[0-9]/.test(word)) return word;
  if (word.endsWith('ies') && word.length > 4) return `${word.slice(0, -3)}y`;
  if (/(?:ss|sh|ch|x|z)es$/.test(word)) return word.slice(0, -2);
  if (/[sui]s$/.test(word)) return word;
  return word.slice(0, -1);
}

/** The index terms of a text, in order, repeats kept (term frequency counts them). */
export function tokenize(text: string): string[] {
  const folded = text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
  const out: string[] = [];
  for (const raw of folded.split(/[^\p{L}\p{N}]+/u)) {
    if (!raw || raw.length > MAX_TOKEN || STOPWORDS.has(raw)) continue;
    // A lone letter is noise ("x", "s" from "sofa's"); a lone digit is not ("3 seater").
    if (raw.length === 1 && !/\p{N}/u.test(raw)) continue;
    out.push(stem(raw));
  }
  return out;
}

/** The distinct terms of a query, in first-seen order (a word typed twice counts once). */
export function queryTerms(text: string): string[] {
  return [...new Set(tokenize(text))];
}
