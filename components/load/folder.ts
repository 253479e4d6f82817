/** An export folder: `Products.csv`, `Images.csv` and `images/`, as AiCore distributed it. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../core/platform/index.js';

export interface ExportFolder {
  products: string;
  images: string;
  imagesDir: string;
}

/** Finds the export's files (names matched without regard to case), or says what is missing. */
export async function findExportFiles(dir: string): Promise<ExportFolder> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new InputError(`${dir} is not a folder`);
    names = await readdir(dir);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`data folder ${dir} not found`);
  }
  const find = (wanted: string) => names.find((name) => name.toLowerCase() === wanted.toLowerCase());
  const products = find('Products.csv');
  const images = find('Images.csv');
  const missing = [products ? null : 'Products.csv', images ? null : 'Images.csv'].filter(Boolean);
  if (!products || !images) throw new InputError(`${dir}: missing ${missing.join(' and ')} (expected the AiCore export layout)`);
  return {
    products: path.join(dir, products),
    images: path.join(dir, images),
    imagesDir: path.join(dir, find('images') ?? 'images'),
  };
}
