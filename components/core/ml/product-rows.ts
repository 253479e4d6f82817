/**
 * The products of a published index (`products.json`) as the search service holds them: in columns,
 * not one JS object a listing. One object a listing (with its strings, its path array and an entry in
 * an id → position Map) cost about 613 B of V8 heap a listing at 10^6 (bench/scale/rows-step.ts); the
 * columns cost what their bytes are:
 *
 *   id, title              one UTF-8 buffer each + Uint32 offsets
 *   root, town, county     dictionary codes (Uint16 while the dictionary has under 65,535 entries, else Int32);
 *                          code 0 is null
 *   path                   dictionary code of the whole category path (the same array object for every
 *                          listing on that path); 0 when the index has none (built before the lexical index)
 *   priceMinor             Int32 (Float64 when some price is not a 32-bit integer)
 *   latitude, longitude    Float64, NaN for null (JSON has no NaN, so nothing else maps to it)
 *   imageKey               dictionary code of its folder (up to the last '/'), 0 for null, + the rest in a
 *                          UTF-8 buffer
 *   listedAt               Float64 milliseconds (NaN when null); a string that `toISOString()` would not
 *                          write back the same is kept as it is, beside
 *   id → position          an open-addressing table over the id buffer (Int32, at most half full)
 *
 * `get(i)` gives the row back as the object it was read from (the same fields, null and absent alike;
 * text as UTF-8 holds it: a lone UTF-16 surrogate, which Postgres text cannot hold, would come back as
 * U+FFFD; a text column holds at most 4 GiB, about 10^8 titles);
 * the hot paths (filters, sorts, the page's rows) read single fields. Reading `products.json` does not
 * parse it whole: it is cut into batches of elements, each parsed and checked, so loading never holds
 * the whole catalogue as objects either.
 */
import { z } from 'zod';

export const IndexedProduct = z.object({
  id: z.string(),
  title: z.string(),
  root: z.string(),
  priceMinor: z.number(),
  town: z.string().nullable(),
  county: z.string().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  /** Model-ready picture, when the product has one (an artifact key). */
  imageKey: z.string().nullable(),
  /** The category path, root first (absent from indexes built before the lexical index: then [root]). */
  path: z.array(z.string()).optional(),
  /**
   * When the listing was listed (ISO): the export's create_time when it has one, else when the
   * catalogue first saw the listing (products.cleaned_at, set once at insert). Null when unknown.
   */
  listedAt: z.string().nullable().optional(),
});
export type IndexedProduct = z.infer<typeof IndexedProduct>;

/** A column of strings: their UTF-8 bytes end to end, string i from offsets[i] to offsets[i + 1]. */
class Utf8Column {
  private bytes: Buffer;
  private used = 0;
  private offsets: Uint32Array;
  private count = 0;

  constructor(capacity: number) {
    this.bytes = Buffer.allocUnsafeSlow(Math.max(1024, capacity * 16));
    this.offsets = new Uint32Array(capacity + 1);
  }

  add(value: string): void {
    // At most 3 UTF-8 bytes per UTF-16 unit.
    const worst = this.used + value.length * 3;
    if (worst > this.bytes.length) {
      if (worst > 0xffff_ffff) throw new RangeError('a product column holds more than 4 GiB of text');
      const grown = Buffer.allocUnsafeSlow(Math.min(0xffff_ffff, Math.max(worst, this.bytes.length * 2)));
      this.bytes.copy(grown, 0, 0, this.used);
      this.bytes = grown;
    }
    this.used += this.bytes.write(value, this.used, 'utf8');
    if (this.count + 1 >= this.offsets.length) {
      const grown = new Uint32Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    this.count += 1;
    this.offsets[this.count] = this.used;
  }

  /** The column, trimmed to what it holds. */
  finish(): Utf8Strings {
    const bytes = Buffer.allocUnsafeSlow(this.used);
    this.bytes.copy(bytes, 0, 0, this.used);
    this.bytes = Buffer.alloc(0);
    return new Utf8Strings(bytes, this.offsets.slice(0, this.count + 1));
  }
}

class Utf8Strings {
  constructor(
    readonly bytes: Buffer,
    readonly offsets: Uint32Array,
  ) {}

  get(i: number): string {
    return this.bytes.toString('utf8', this.offsets[i], this.offsets[i + 1]);
  }

  /** Whether string i is exactly these UTF-8 bytes. */
  equals(i: number, utf8: Uint8Array): boolean {
    const start = this.offsets[i]!;
    if (this.offsets[i + 1]! - start !== utf8.length) return false;
    for (let j = 0; j < utf8.length; j++) if (this.bytes[start + j] !== utf8[j]) return false;
    return true;
  }

  /** Whether strings i and k are the same. */
  same(i: number, k: number): boolean {
    const a = this.offsets[i]!;
    const b = this.offsets[k]!;
    const length = this.offsets[i + 1]! - a;
    if (this.offsets[k + 1]! - b !== length) return false;
    for (let j = 0; j < length; j++) if (this.bytes[a + j] !== this.bytes[b + j]) return false;
    return true;
  }

  hash(i: number): number {
    return fnv1a(this.bytes, this.offsets[i]!, this.offsets[i + 1]!);
  }

  get byteLength(): number {
    return this.bytes.byteLength + this.offsets.byteLength;
  }
}

function fnv1a(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let j = start; j < end; j++) hash = Math.imul(hash ^ bytes[j]!, 0x01000193);
  // A final mix: ids that differ only in their last characters must not share low bits.
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  return (hash ^ (hash >>> 13)) >>> 0;
}

/** Distinct values, each given a code from 1 up (0 stays for null). */
class Dictionary<T> {
  readonly values: T[] = [];
  private readonly codes = new Map<string, number>();

  code(key: string, value: () => T): number {
    let code = this.codes.get(key);
    if (code === undefined) {
      this.values.push(value());
      code = this.values.length;
      this.codes.set(key, code);
    }
    return code;
  }
}

/** Codes in the narrowest array that holds them. */
type Codes = Uint16Array | Int32Array;
const narrow = (codes: Int32Array, count: number, dictionarySize: number): Codes =>
  dictionarySize < 0xffff ? Uint16Array.from(codes.subarray(0, count)) : codes.slice(0, count);

const grownInt32 = (array: Int32Array): Int32Array => {
  const grown = new Int32Array(Math.max(16, array.length * 2));
  grown.set(array);
  return grown;
};
const grownFloat64 = (array: Float64Array): Float64Array => {
  const grown = new Float64Array(Math.max(16, array.length * 2));
  grown.set(array);
  return grown;
};

/** Products added one at a time (in vector order), then frozen into ProductRows. */
export class ProductRowsBuilder {
  private count = 0;
  private readonly ids: Utf8Column;
  private readonly titles: Utf8Column;
  private readonly imageNames: Utf8Column;
  private readonly roots = new Dictionary<string>();
  private readonly places = new Dictionary<string>();
  private readonly paths = new Dictionary<readonly string[]>();
  private readonly folders = new Dictionary<string>();
  private rootCodes: Int32Array;
  private townCodes: Int32Array;
  private countyCodes: Int32Array;
  private pathCodes: Int32Array;
  private folderCodes: Int32Array;
  private prices: Float64Array;
  private integerPrices = true;
  private latitudes: Float64Array;
  private longitudes: Float64Array;
  private listedAt: Float64Array;
  private readonly listedAsWritten = new Map<number, string>();
  private readonly listedAtAbsent: number[] = [];

  constructor(capacity = 1024) {
    this.ids = new Utf8Column(capacity);
    this.titles = new Utf8Column(capacity);
    this.imageNames = new Utf8Column(capacity);
    this.rootCodes = new Int32Array(capacity);
    this.townCodes = new Int32Array(capacity);
    this.countyCodes = new Int32Array(capacity);
    this.pathCodes = new Int32Array(capacity);
    this.folderCodes = new Int32Array(capacity);
    this.prices = new Float64Array(capacity);
    this.latitudes = new Float64Array(capacity);
    this.longitudes = new Float64Array(capacity);
    this.listedAt = new Float64Array(capacity);
  }

  add(row: IndexedProduct): void {
    const i = this.count;
    if (i >= this.prices.length) this.grow();
    this.ids.add(row.id);
    this.titles.add(row.title);
    this.rootCodes[i] = this.roots.code(row.root, () => row.root);
    // Towns and counties share one dictionary: they are few, and a county is often a town's name.
    this.townCodes[i] = row.town === null ? 0 : this.places.code(row.town, () => row.town!);
    this.countyCodes[i] = row.county === null ? 0 : this.places.code(row.county, () => row.county!);
    const path = row.path;
    this.pathCodes[i] = path === undefined ? 0 : this.paths.code(JSON.stringify(path), () => Object.freeze([...path]));
    this.prices[i] = row.priceMinor;
    if (this.integerPrices && !(Number.isInteger(row.priceMinor) && Math.abs(row.priceMinor) <= 0x7fff_ffff)) this.integerPrices = false;
    this.latitudes[i] = row.latitude ?? Number.NaN;
    this.longitudes[i] = row.longitude ?? Number.NaN;
    if (row.imageKey === null) {
      this.folderCodes[i] = 0;
      this.imageNames.add('');
    } else {
      const cut = row.imageKey.lastIndexOf('/') + 1;
      const folder = row.imageKey.slice(0, cut);
      this.folderCodes[i] = this.folders.code(folder, () => folder);
      this.imageNames.add(row.imageKey.slice(cut));
    }
    const listed = row.listedAt;
    if (listed === undefined) {
      this.listedAt[i] = Number.NaN;
      this.listedAtAbsent.push(i);
    } else if (listed === null) this.listedAt[i] = Number.NaN;
    else {
      const ms = Date.parse(listed);
      this.listedAt[i] = ms;
      if (Number.isNaN(ms) || new Date(ms).toISOString() !== listed) this.listedAsWritten.set(i, listed);
    }
    this.count += 1;
  }

  private grow(): void {
    this.rootCodes = grownInt32(this.rootCodes);
    this.townCodes = grownInt32(this.townCodes);
    this.countyCodes = grownInt32(this.countyCodes);
    this.pathCodes = grownInt32(this.pathCodes);
    this.folderCodes = grownInt32(this.folderCodes);
    this.prices = grownFloat64(this.prices);
    this.latitudes = grownFloat64(this.latitudes);
    this.longitudes = grownFloat64(this.longitudes);
    this.listedAt = grownFloat64(this.listedAt);
  }

  finish(): ProductRows {
    const n = this.count;
    const absent = new Uint8Array(this.listedAtAbsent.length > 0 ? (n + 7) >> 3 : 0);
    for (const i of this.listedAtAbsent) absent[i >> 3]! |= 1 << (i & 7);
    return new ProductRows({
      length: n,
      ids: this.ids.finish(),
      titles: this.titles.finish(),
      roots: this.roots.values,
      rootCodes: narrow(this.rootCodes, n, this.roots.values.length),
      places: this.places.values,
      townCodes: narrow(this.townCodes, n, this.places.values.length),
      countyCodes: narrow(this.countyCodes, n, this.places.values.length),
      paths: this.paths.values,
      pathCodes: narrow(this.pathCodes, n, this.paths.values.length),
      prices: this.integerPrices ? Int32Array.from(this.prices.subarray(0, n)) : this.prices.slice(0, n),
      latitudes: this.latitudes.slice(0, n),
      longitudes: this.longitudes.slice(0, n),
      folders: this.folders.values,
      folderCodes: narrow(this.folderCodes, n, this.folders.values.length),
      imageNames: this.imageNames.finish(),
      listedAt: this.listedAt.slice(0, n),
      listedAsWritten: this.listedAsWritten,
      listedAtAbsent: absent,
    });
  }
}

interface Columns {
  length: number;
  ids: Utf8Strings;
  titles: Utf8Strings;
  roots: string[];
  rootCodes: Codes;
  places: string[];
  townCodes: Codes;
  countyCodes: Codes;
  paths: (readonly string[])[];
  pathCodes: Codes;
  prices: Int32Array | Float64Array;
  latitudes: Float64Array;
  longitudes: Float64Array;
  folders: string[];
  folderCodes: Codes;
  imageNames: Utf8Strings;
  listedAt: Float64Array;
  listedAsWritten: Map<number, string>;
  listedAtAbsent: Uint8Array;
}

/** Elements of a JSON array parsed a batch at a time (about this many bytes of text each: small enough that a batch's objects die young). */
const BATCH_BYTES = 256 << 10;

/** The products of an index, by position (vector order). Read-only. */
export class ProductRows implements Iterable<IndexedProduct> {
  readonly length: number;
  private readonly c: Columns;
  /** Open addressing over the ids: position + 1, 0 for an empty slot. */
  private readonly table: Int32Array;
  private readonly mask: number;

  /** Use ProductRows.from / fromJson. */
  constructor(columns: Columns) {
    this.c = columns;
    this.length = columns.length;
    let size = 16;
    while (size < columns.length * 2) size *= 2;
    this.table = new Int32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < columns.length; i++) {
      let slot = columns.ids.hash(i) & this.mask;
      for (;;) {
        const held = this.table[slot]!;
        // The same id twice: the later position wins (as a Map filled in order would answer).
        if (held === 0 || columns.ids.same(held - 1, i)) {
          this.table[slot] = i + 1;
          break;
        }
        slot = (slot + 1) & this.mask;
      }
    }
  }

  static from(rows: Iterable<IndexedProduct>, capacity?: number): ProductRows {
    const builder = new ProductRowsBuilder(capacity ?? (Array.isArray(rows) ? rows.length : undefined));
    for (const row of rows) builder.add(row);
    return builder.finish();
  }

  /**
   * `products.json` as the index component writes it (a JSON array of IndexedProduct), each row checked
   * as z.array(IndexedProduct).parse would (a ZodError names the row's index in the whole array).
   */
  static fromJson(bytes: Uint8Array): ProductRows {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const cuts = arrayCuts(buffer);
    // Not a plain array of objects (or not JSON at all): parsed whole, for the parser's own error.
    if (!cuts) return ProductRows.from(z.array(IndexedProduct).parse(JSON.parse(buffer.toString('utf8'))));
    const builder = new ProductRowsBuilder(cuts.count);
    let seen = 0;
    for (const [from, to] of cuts.batches) {
      const batch = JSON.parse(`[${buffer.toString('utf8', from, to)}]`) as unknown[];
      // The schema's checks by hand (zod copies every row); zod itself for a batch that fails them, for its error.
      if (!batch.every(isIndexedProduct)) {
        const parsed = z.array(IndexedProduct).safeParse(batch);
        if (!parsed.success)
          throw new z.ZodError(
            parsed.error.issues.map((issue) => ({ ...issue, path: [seen + Number(issue.path[0]), ...issue.path.slice(1)] })),
          );
        for (const row of parsed.data) builder.add(row);
      } else for (const row of batch as IndexedProduct[]) builder.add(row);
      seen += batch.length;
    }
    return builder.finish();
  }

  /** The row as it was read (a new object each call). */
  get(i: number): IndexedProduct {
    this.check(i);
    const row: IndexedProduct = {
      id: this.id(i),
      title: this.title(i),
      root: this.root(i),
      priceMinor: this.priceMinor(i),
      town: this.town(i),
      county: this.county(i),
      latitude: this.latitude(i),
      longitude: this.longitude(i),
      imageKey: this.imageKey(i),
    };
    const path = this.path(i);
    if (path !== undefined) row.path = [...path];
    const listed = this.listedAt(i);
    if (listed !== undefined) row.listedAt = listed;
    return row;
  }

  *[Symbol.iterator](): Iterator<IndexedProduct> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }

  id(i: number): string {
    return this.c.ids.get(i);
  }
  title(i: number): string {
    return this.c.titles.get(i);
  }
  root(i: number): string {
    return this.c.roots[this.c.rootCodes[i]! - 1]!;
  }
  priceMinor(i: number): number {
    return this.c.prices[i]!;
  }
  town(i: number): string | null {
    const code = this.c.townCodes[i]!;
    return code === 0 ? null : this.c.places[code - 1]!;
  }
  county(i: number): string | null {
    const code = this.c.countyCodes[i]!;
    return code === 0 ? null : this.c.places[code - 1]!;
  }
  latitude(i: number): number | null {
    const value = this.c.latitudes[i]!;
    return Number.isNaN(value) ? null : value;
  }
  longitude(i: number): number | null {
    const value = this.c.longitudes[i]!;
    return Number.isNaN(value) ? null : value;
  }
  imageKey(i: number): string | null {
    const code = this.c.folderCodes[i]!;
    return code === 0 ? null : this.c.folders[code - 1]! + this.c.imageNames.get(i);
  }
  /** The category path as stored (undefined for an index built before the lexical index). Shared: do not change it. */
  path(i: number): readonly string[] | undefined {
    const code = this.c.pathCodes[i]!;
    return code === 0 ? undefined : this.c.paths[code - 1];
  }
  /** The category path, root first: the stored one, else [root]. */
  categoryPath(i: number): readonly string[] {
    return this.path(i) ?? [this.root(i)];
  }
  listedAt(i: number): string | null | undefined {
    const absent = this.c.listedAtAbsent;
    if (absent.length > 0 && (absent[i >> 3]! >> (i & 7)) & 1) return undefined;
    const ms = this.c.listedAt[i]!;
    const written = this.c.listedAsWritten.get(i);
    if (written !== undefined) return written;
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  }
  /** Every listing's listedAt in milliseconds since the epoch (Date.parse), NaN when unknown. Shared: do not change it. */
  get listedAtMillis(): Float64Array {
    return this.c.listedAt;
  }

  /** The position of the product with this id (the last one, were an id there twice). */
  positionOf(id: string): number | undefined {
    const utf8 = Buffer.from(id, 'utf8');
    let slot = fnv1a(utf8, 0, utf8.length) & this.mask;
    for (;;) {
      const held = this.table[slot]!;
      if (held === 0) return undefined;
      if (this.c.ids.equals(held - 1, utf8)) return held - 1;
      slot = (slot + 1) & this.mask;
    }
  }

  /** Bytes held in typed arrays and buffers (dictionaries and the rare strings kept as written not counted). */
  memoryBytes(): number {
    const c = this.c;
    return (
      c.ids.byteLength +
      c.titles.byteLength +
      c.imageNames.byteLength +
      [
        c.rootCodes,
        c.townCodes,
        c.countyCodes,
        c.pathCodes,
        c.folderCodes,
        c.prices,
        c.latitudes,
        c.longitudes,
        c.listedAt,
        c.listedAtAbsent,
      ]
        .map((array) => array.byteLength)
        .reduce((a, b) => a + b, 0) +
      this.table.byteLength
    );
  }

  private check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) throw new RangeError(`product position ${i} is outside 0..${this.length - 1}`);
  }
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNumber = (value: unknown): value is number => typeof value === 'number' && !Number.isNaN(value);

/** What IndexedProduct.parse accepts (fields it does not know are ignored, as zod strips them). */
function isIndexedProduct(value: unknown): value is IndexedProduct {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const row = value as Record<string, unknown>;
  const { path, listedAt } = row;
  return (
    isString(row['id']) &&
    isString(row['title']) &&
    isString(row['root']) &&
    isNumber(row['priceMinor']) &&
    (row['town'] === null || isString(row['town'])) &&
    (row['county'] === null || isString(row['county'])) &&
    (row['latitude'] === null || isNumber(row['latitude'])) &&
    (row['longitude'] === null || isNumber(row['longitude'])) &&
    (row['imageKey'] === null || isString(row['imageKey'])) &&
    (path === undefined || (Array.isArray(path) && path.every(isString))) &&
    (listedAt === undefined || listedAt === null || isString(listedAt))
  );
}

/**
 * Where to cut a JSON array of objects into batches of whole elements: byte ranges between the
 * brackets and top-level commas, and the element count. Null when the text is not
 * `[ {…}, … ]` with nothing around it but whitespace (the caller parses it whole then, for the error).
 */
function arrayCuts(bytes: Buffer): { count: number; batches: [number, number][] } | null {
  const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
  let start = 0;
  let end = bytes.length;
  while (start < end && isSpace(bytes[start]!)) start++;
  while (end > start && isSpace(bytes[end - 1]!)) end--;
  if (end - start < 2 || bytes[start] !== 0x5b || bytes[end - 1] !== 0x5d) return null;
  const batches: [number, number][] = [];
  let from = start + 1;
  let count = 0;
  let depth = 0;
  let elementOpen = false;
  for (let j = start + 1; j < end - 1; j++) {
    const b = bytes[j]!;
    if (b === 0x22) {
      if (depth === 0) return null;
      // To the closing quote: the next one not escaped (preceded by an even run of backslashes).
      for (;;) {
        const quote = bytes.indexOf(0x22, j + 1);
        if (quote < 0 || quote >= end - 1) return null;
        let backslashes = 0;
        while (bytes[quote - 1 - backslashes] === 0x5c) backslashes++;
        j = quote;
        if (backslashes % 2 === 0) break;
      }
    } else if (b === 0x7b || b === 0x5b) {
      if (depth === 0) {
        if (elementOpen) return null;
        elementOpen = true;
        count++;
      }
      depth++;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
      if (depth < 0) return null;
    } else if (depth === 0 && b === 0x2c) {
      if (!elementOpen) return null;
      elementOpen = false;
      if (j - from >= BATCH_BYTES) {
        batches.push([from, j]);
        from = j + 1;
      }
    } else if (depth === 0 && !isSpace(b)) return null;
  }
  if (depth !== 0 || (count > 0 && !elementOpen)) return null;
  batches.push([from, end - 1]);
  return { count, batches };
}
