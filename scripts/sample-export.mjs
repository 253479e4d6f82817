#!/usr/bin/env node
// Writes test/fixtures/gumtree-sample/: every Nth product line of the real export (default 10) and
// the image lines of those products, each line byte for byte as the export has it (bare CRs inside
// descriptions, CRLF image rows), headers included. Usage:
//   node scripts/sample-export.mjs <export folder> <out folder> [every]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [from, to, everyArg] = process.argv.slice(2);
if (!from || !to) {
  process.stderr.write('usage: node scripts/sample-export.mjs <export folder> <out folder> [every]\n');
  process.exit(2);
}
const every = Number(everyArg ?? 10);
// Records end at LF only (descriptions hold bare CRs): split on LF and keep every other byte.
const lines = (file) =>
  readFileSync(path.join(from, file), 'latin1')
    .split('\n')
    .filter((line, i, all) => i < all.length - 1 || line !== '');
const products = lines('Products.csv');
const kept = [products[0], ...products.slice(1).filter((_, i) => i % every === 0)];
const ids = new Set(kept.slice(1).map((line) => line.split(',')[1]));
const images = lines('Images.csv');
const keptImages = [images[0], ...images.slice(1).filter((line) => ids.has(line.split(',')[2]))];
mkdirSync(to, { recursive: true });
writeFileSync(path.join(to, 'Products.csv'), Buffer.from(kept.map((l) => `${l}\n`).join(''), 'latin1'));
writeFileSync(path.join(to, 'Images.csv'), Buffer.from(keptImages.map((l) => `${l}\n`).join(''), 'latin1'));
process.stdout.write(`${JSON.stringify({ products: kept.length - 1, images: keptImages.length - 1, every })}\n`);
