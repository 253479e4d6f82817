/**
 * A synthetic catalogue of N listings in the AiCore export's format (Products.csv, Images.csv), made
 * from the real export's vocabulary and structure, for the scale benchmark (`npm run bench -- --scale N`).
 * BENCHMARK DATA ONLY: clearly synthetic (a README.md and generator.json say so beside the files), never
 * a test fixture of record, never mixed with the real export.
 *
 * Each listing starts from a real listing drawn at random (its category path, so the category mix is the
 * real one) and is recombined from listings of the same category: the title is the base title with, half
 * the time, a word run from another title of that category; the description is the base description's
 * sentences with, half the time, a sentence of another; the price is the base price times a log-normal
 * factor (sd 0.35), written as the export writes it (`£1,234.00`, `£0.00` kept); the town is drawn
 * independently from the real towns, and baked into the title as the export does. Image rows: as many
 * per listing as a real listing of the draw has (0 to 10+), with new image ids.
 * Reproducible: the same seed and N give the same bytes. Optional dirt (`--dirty r`): a fraction r of
 * the product lines is a repeated id, a line with a field missing, or a line with no id, so that the
 * loader's refusals are exercised at scale; generator.json says how many of each.
 *
 * Usage: node --import tsx bench/scale/generate.ts --out <dir> --n <listings> [--seed 1] [--data ../shared/data] [--dirty 0.001]
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';

export interface GenerateOptions {
  out: string;
  listings: number;
  seed?: number;
  /** The real export folder whose vocabulary is recombined. */
  data: string;
  /** Fraction of product lines written dirty (refused by the loader). */
  dirty?: number;
}

export interface GeneratedCatalogue {
  dir: string;
  products: string;
  images: string;
  /** Distinct listings written (loadable product rows). */
  listings: number;
  imageRows: number;
  /** Product lines the loader must refuse, by kind. */
  dirty: { duplicateId: number; missingField: number; missingId: number };
  productLines: number;
  bytes: { products: number; images: number };
  seed: number;
  seconds: number;
}

interface RealListing {
  title: string;
  category: string;
  description: string;
  pricePence: number;
}

function seeded(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function readCsv(file: string): Promise<string[][]> {
  const rows: string[][] = [];
  // The real Products.csv has bare CRs inside descriptions: records end at LF (or CRLF) only.
  const parser = createReadStream(file).pipe(
    parse({ bom: true, record_delimiter: ['\r\n', '\n'], relax_column_count: true, skip_records_with_error: true }),
  );
  for await (const record of parser as AsyncIterable<string[]>) rows.push(record);
  return rows;
}

const TITLE_SUFFIX = / \| in [^|]*\| Gumtree$/;

/** The real export, reduced to what the generator recombines. */
export async function readVocabulary(data: string) {
  const [productRows, imageRows] = await Promise.all([readCsv(path.join(data, 'Products.csv')), readCsv(path.join(data, 'Images.csv'))]);
  const header = productRows[0] ?? [];
  const col = (name: string) => header.indexOf(name);
  const [ID, NAME, CATEGORY, DESCRIPTION, PRICE, LOCATION] = [
    'id',
    'product_name',
    'category',
    'product_description',
    'price',
    'location',
  ].map(col);
  const listings: RealListing[] = [];
  const towns: string[] = [];
  const imagesPerProduct = new Map<string, number>();
  for (const row of imageRows.slice(1)) imagesPerProduct.set(row[2] ?? '', (imagesPerProduct.get(row[2] ?? '') ?? 0) + 1);
  const imageCounts: number[] = [];
  for (const row of productRows.slice(1)) {
    if (row.length !== header.length) continue;
    const price = Number((row[PRICE!] ?? '').replace(/[£,]/g, ''));
    listings.push({
      title: (row[NAME!] ?? '').replace(TITLE_SUFFIX, ''),
      category: row[CATEGORY!] ?? '',
      description: row[DESCRIPTION!] ?? '',
      pricePence: Number.isFinite(price) ? Math.round(price * 100) : 0,
    });
    towns.push(row[LOCATION!] ?? '');
    imageCounts.push(imagesPerProduct.get(row[ID!] ?? '') ?? 0);
  }
  const byCategory = new Map<string, number[]>();
  listings.forEach((listing, i) => {
    const list = byCategory.get(listing.category) ?? [];
    list.push(i);
    byCategory.set(listing.category, list);
  });
  const createTimes = [...new Set(imageRows.slice(1).map((row) => row[5] ?? ''))].filter(Boolean).sort();
  return { listings, towns, byCategory, imageCounts, createTimes };
}

const HEX = '0123456789abcdef';
function uuid(random: () => number): string {
  let s = '';
  for (let i = 0; i < 32; i++) {
    if (i === 8 || i === 12 || i === 16 || i === 20) s += '-';
    s += i === 12 ? '4' : i === 16 ? HEX[8 + Math.floor(random() * 4)] : HEX[Math.floor(random() * 16)];
  }
  return s;
}
const REF = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const imageRef = (random: () => number) => Array.from({ length: 16 }, () => REF[Math.floor(random() * REF.length)]).join('');

/** £1,234.00 as the export writes it. */
export function formatPrice(pence: number): string {
  const pounds = Math.floor(pence / 100);
  return `£${pounds.toLocaleString('en-GB')}.${String(pence % 100).padStart(2, '0')}`;
}

const field = (text: string) => (/[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

/** A stream writer that waits for the file to drain every 4 MB (memory stays bounded whatever N). */
class Out {
  private pending: string[] = [];
  private size = 0;
  bytes = 0;
  constructor(private readonly stream: WriteStream) {}
  async write(text: string) {
    this.pending.push(text);
    this.size += text.length;
    if (this.size > 4 << 20) await this.flush();
  }
  async flush() {
    const chunk = this.pending.join('');
    this.pending = [];
    this.size = 0;
    this.bytes += Buffer.byteLength(chunk);
    if (!this.stream.write(chunk)) await new Promise<void>((resolve) => this.stream.once('drain', () => resolve()));
  }
  async close() {
    await this.flush();
    await new Promise<void>((resolve, reject) => this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
}

export async function generateCatalogue(options: GenerateOptions): Promise<GeneratedCatalogue> {
  const started = performance.now();
  const seed = options.seed ?? 1;
  const dirtyRate = options.dirty ?? 0;
  const vocabulary = await readVocabulary(options.data);
  const { listings, towns, byCategory, imageCounts, createTimes } = vocabulary;
  if (listings.length === 0) throw new Error(`${options.data}: no listings to recombine`);
  await mkdir(options.out, { recursive: true });
  const productsFile = path.join(options.out, 'Products.csv');
  const imagesFile = path.join(options.out, 'Images.csv');
  const products = new Out(createWriteStream(productsFile));
  const images = new Out(createWriteStream(imagesFile));
  await products.write(',id,product_name,category,product_description,price,location\n');
  await images.write(',id,product_id,bucket_link,image_ref,create_time\r\n');

  const random = seeded(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const dirty = { duplicateId: 0, missingField: 0, missingId: 0 };
  let line = 0;
  let imageLine = 0;
  let previousId = '';
  for (let n = 0; n < options.listings; n++) {
    const baseAt = Math.floor(random() * listings.length);
    const base = listings[baseAt]!;
    const sameCategory = byCategory.get(base.category)!;
    const other = listings[pick(sameCategory)]!;
    let title = base.title;
    if (random() < 0.5) {
      const words = other.title.split(' ');
      const from = Math.floor(random() * words.length);
      title = `${title} ${words.slice(from, from + 1 + Math.floor(random() * 3)).join(' ')}`.trim();
    }
    let description = base.description;
    if (random() < 0.5) {
      const sentences = other.description.split('. ');
      description = `${description} ${pick(sentences)}`;
    }
    const pricePence = base.pricePence === 0 ? 0 : Math.max(1, Math.round((base.pricePence * Math.exp(0.35 * gauss())) / 100) * 100);
    const town = pick(towns);
    const id = uuid(random);
    const name = `${title} | in ${town} | Gumtree`;
    const fields = [String(line), id, field(name), field(base.category), field(description), field(formatPrice(pricePence)), field(town)];
    if (dirtyRate > 0 && random() < dirtyRate) {
      // Dirt never replaces a listing: it is one more line, refused by the loader.
      const kind = Math.floor(random() * 3);
      const bad = [...fields];
      bad[0] = String(line + 0.5);
      if (kind === 0 && previousId) {
        bad[1] = previousId;
        dirty.duplicateId += 1;
      } else if (kind === 1) {
        bad.splice(4, 1);
        dirty.missingField += 1;
      } else {
        bad[1] = '';
        dirty.missingId += 1;
      }
      await products.write(`${bad.join(',')}\n`);
    }
    await products.write(`${fields.join(',')}\n`);
    line += 1;
    previousId = id;
    const pictures = imageCounts[baseAt] ?? 0;
    for (let p = 0; p < pictures; p++) {
      const imageId = uuid(random);
      await images.write(
        `${imageLine},${imageId},${id},https://aicore-projects-datasets-prod.s3.eu-west-1.amazonaws.com/MetaMarketplaceMLEng/images/${imageId}.jpg,${imageRef(random)},${pick(createTimes)}\r\n`,
      );
      imageLine += 1;
    }
  }
  await products.close();
  await images.close();
  const result: GeneratedCatalogue = {
    dir: options.out,
    products: productsFile,
    images: imagesFile,
    listings: options.listings,
    imageRows: imageLine,
    dirty,
    productLines: line + dirty.duplicateId + dirty.missingField + dirty.missingId,
    bytes: { products: products.bytes, images: images.bytes },
    seed,
    seconds: (performance.now() - started) / 1000,
  };
  await writeFile(
    path.join(options.out, 'generator.json'),
    `${JSON.stringify({ synthetic: true, source: options.data, ...result }, null, 2)}\n`,
  );
  await writeFile(
    path.join(options.out, 'README.md'),
    `# SYNTHETIC benchmark catalogue (not real listings)\n\n${options.listings} listings recombined from the vocabulary of ${options.data} by bench/scale/generate.ts, seed ${seed}. ` +
      'For the scale benchmark only: never a test fixture of record. See generator.json for the counts (refused lines by kind).\n',
  );
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      n: { type: 'string' },
      seed: { type: 'string', default: '1' },
      data: { type: 'string', default: path.resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data') },
      dirty: { type: 'string', default: '0' },
    },
  });
  if (!values.out || !values.n) {
    process.stderr.write('usage: generate.ts --out <dir> --n <listings> [--seed 1] [--data dir] [--dirty fraction]\n');
    process.exit(2);
  }
  const result = await generateCatalogue({
    out: values.out,
    listings: Number(values.n),
    seed: Number(values.seed),
    data: values.data!,
    dirty: Number(values.dirty),
  });
  console.log(JSON.stringify(result));
}
