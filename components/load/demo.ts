/**
 * A demo catalogue, generated reproducibly (the same seed gives the same bytes): listings across the
 * 13 real root categories in the AiCore export layout, each with one or two generated pictures whose
 * colour and shape carry the category (so an image tower has something to learn). Every listing is
 * labelled synthetic: ids start with `demo-` and each description says so. It lets a new user see
 * the whole product work in minutes, and proves the image path, which the public export cannot.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import sharp from 'sharp';
import { seededRandom } from '../core/platform/index.js';
import { PLACES } from './places.js';

interface CategoryTheme {
  root: string;
  sub: string[];
  items: string[];
  /** Price range in pounds. */
  price: [number, number];
  colour: string;
  shape: 'circle' | 'square' | 'triangle' | 'diamond' | 'bar' | 'ring';
}

const THEMES: CategoryTheme[] = [
  {
    root: 'Appliances',
    sub: ['Kitchen Appliances', 'Washing Machines'],
    items: ['washing machine', 'fridge freezer', 'microwave', 'dishwasher', 'kettle'],
    price: [10, 400],
    colour: '#d9d9d9',
    shape: 'square',
  },
  {
    root: 'Baby & Kids Stuff',
    sub: ['Toys', 'Prams & Strollers'],
    items: ['pram', 'cot', 'high chair', 'baby walker', 'toy kitchen'],
    price: [5, 150],
    colour: '#f4a6c6',
    shape: 'circle',
  },
  {
    root: 'Clothes, Footwear & Accessories',
    sub: ["Women's Clothing", "Men's Shoes"],
    items: ['winter coat', 'leather boots', 'summer dress', 'trainers', 'handbag'],
    price: [3, 120],
    colour: '#8e44ad',
    shape: 'triangle',
  },
  {
    root: 'Computers & Software',
    sub: ['Laptops', 'Monitors'],
    items: ['laptop', 'monitor', 'keyboard', 'graphics card', 'printer'],
    price: [20, 900],
    colour: '#2c3e50',
    shape: 'bar',
  },
  {
    root: 'DIY Tools & Materials',
    sub: ['Power Tools', 'Hand Tools'],
    items: ['cordless drill', 'circular saw', 'tool box', 'ladder', 'sander'],
    price: [8, 250],
    colour: '#f39c12',
    shape: 'diamond',
  },
  {
    root: 'Health & Beauty',
    sub: ['Hair Care', 'Fragrances'],
    items: ['hair dryer', 'perfume', 'straighteners', 'massage chair', 'make-up set'],
    price: [4, 200],
    colour: '#e8d5b7',
    shape: 'ring',
  },
  {
    root: 'Home & Garden',
    sub: ['Dining, Living Room Furniture', 'Garden & Patio'],
    items: ['oak dining table', 'corner sofa', 'garden bench', 'wardrobe', 'mirror'],
    price: [10, 600],
    colour: '#27ae60',
    shape: 'square',
  },
  {
    root: 'Music, Films, Books & Games',
    sub: ['Books', 'Musical Instruments'],
    items: ['acoustic guitar', 'box set of novels', 'vinyl records', 'keyboard piano', 'board game'],
    price: [2, 300],
    colour: '#c0392b',
    shape: 'circle',
  },
  {
    root: 'Office Furniture & Equipment',
    sub: ['Desks', 'Office Chairs'],
    items: ['office desk', 'ergonomic chair', 'filing cabinet', 'meeting table', 'shredder'],
    price: [15, 350],
    colour: '#7f8c8d',
    shape: 'bar',
  },
  {
    root: 'Other Goods',
    sub: ['Miscellaneous Goods'],
    items: ['job lot', 'storage boxes', 'suitcase', 'umbrella stand', 'collectables'],
    price: [1, 100],
    colour: '#bdc3c7',
    shape: 'diamond',
  },
  {
    root: 'Phones, Mobile Phones & Telecoms',
    sub: ['Mobile Phones', 'Accessories'],
    items: ['iPhone', 'Samsung Galaxy', 'phone case', 'charger', 'smart watch'],
    price: [5, 700],
    colour: '#1abc9c',
    shape: 'ring',
  },
  {
    root: 'Sports, Leisure & Travel',
    sub: ['Bicycles', 'Fitness & Gym Equipment'],
    items: ['mountain bike', 'treadmill', 'tent', 'golf clubs', 'dumbbells'],
    price: [10, 500],
    colour: '#2980b9',
    shape: 'triangle',
  },
  {
    root: 'Video Games & Consoles',
    sub: ['Consoles', 'Games'],
    items: ['PS4 console', 'Xbox One', 'Nintendo Switch', 'FIFA game', 'gaming headset'],
    price: [5, 300],
    colour: '#34495e',
    shape: 'circle',
  },
];

const CONDITIONS = ['in excellent condition', 'barely used', 'some signs of wear', 'like new, boxed', 'fully working'];

function shapeSvg(shape: CategoryTheme['shape'], size: number, next: () => number): string {
  const c = size / 2 + (next() - 0.5) * size * 0.2;
  const r = size * (0.22 + next() * 0.12);
  const fill = `hsl(${Math.floor(next() * 360)}, 20%, ${20 + Math.floor(next() * 20)}%)`;
  const body = {
    circle: `<circle cx="${c}" cy="${c}" r="${r}" fill="${fill}"/>`,
    square: `<rect x="${c - r}" y="${c - r}" width="${2 * r}" height="${2 * r}" fill="${fill}"/>`,
    triangle: `<polygon points="${c},${c - r} ${c + r},${c + r} ${c - r},${c + r}" fill="${fill}"/>`,
    diamond: `<polygon points="${c},${c - r} ${c + r},${c} ${c},${c + r} ${c - r},${c}" fill="${fill}"/>`,
    bar: `<rect x="${c - r * 1.4}" y="${c - r * 0.4}" width="${2.8 * r}" height="${0.8 * r}" fill="${fill}"/>`,
    ring: `<circle cx="${c}" cy="${c}" r="${r}" fill="none" stroke="${fill}" stroke-width="${r * 0.35}"/>`,
  }[shape];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">${body}</svg>`;
}

export interface DemoOptions {
  perCategory?: number;
  seed?: number;
  imageSize?: number;
}

/** Writes Products.csv, Images.csv and images/ into `dir`; returns the counts. */
export async function generateDemoExport(dir: string, options: DemoOptions = {}): Promise<{ products: number; images: number }> {
  const perCategory = options.perCategory ?? 30;
  const size = options.imageSize ?? 256;
  const next = seededRandom(options.seed ?? 2022);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  await mkdir(path.join(dir, 'images'), { recursive: true });
  const products: string[][] = [];
  const images: string[][] = [];
  let n = 0;
  for (const theme of THEMES) {
    for (let i = 0; i < perCategory; i++) {
      const id = `demo-${String(n).padStart(5, '0')}`;
      const item = pick(theme.items);
      const place = pick(PLACES);
      const pounds = Math.round(theme.price[0] * Math.exp(next() * Math.log(theme.price[1] / theme.price[0])) * 100) / 100;
      const description = `[synthetic demo listing] ${item[0]?.toUpperCase()}${item.slice(1)} ${pick(CONDITIONS)}. Collection from ${place.split(', ')[0]}.`;
      products.push([
        String(n),
        id,
        `${item} | in ${place} | Gumtree`,
        `${theme.root} / ${pick(theme.sub)}`,
        description,
        `£${pounds.toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`,
        place,
      ]);
      const count = next() < 0.5 ? 1 : 2;
      for (let k = 0; k < count; k++) {
        const imageId = `demo-img-${String(images.length).padStart(6, '0')}`;
        images.push([String(images.length), imageId, id, '', '', '2022-02-26']);
        const picture = await sharp({ create: { width: size, height: size, channels: 3, background: theme.colour } })
          .composite([{ input: Buffer.from(shapeSvg(theme.shape, size, next)) }])
          .jpeg({ quality: 85 })
          .toBuffer();
        await writeFile(path.join(dir, 'images', `${imageId}.jpg`), picture);
      }
      n += 1;
    }
  }
  await writeFile(
    path.join(dir, 'Products.csv'),
    stringify([['', 'id', 'product_name', 'category', 'product_description', 'price', 'location'], ...products], {
      record_delimiter: '\n',
    }),
  );
  await writeFile(
    path.join(dir, 'Images.csv'),
    stringify([['', 'id', 'product_id', 'bucket_link', 'image_ref', 'create_time'], ...images], { record_delimiter: '\r\n' }),
  );
  await writeFile(
    path.join(dir, 'README.txt'),
    'A SYNTHETIC demo catalogue generated by marketplace-ranking (components/load/demo.ts): not real listings.\n',
  );
  return { products: products.length, images: images.length };
}
