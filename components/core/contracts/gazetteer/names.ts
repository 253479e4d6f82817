/** What the gazetteer's generator and its runtime share: the name key places are matched on (and distance, from core). */
export { distanceKm } from '../../platform/geo.js';

/** Diacritics off, lower case, `&` -> and, apostrophes and dots dropped, `- , / ( )` as spaces. */
export function normalizeName(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/['’.]/g, '')
    .replace(/[-,/()]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
