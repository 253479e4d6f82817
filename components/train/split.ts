/**
 * The train / validation / test split, by product id: sha256(id)'s first four bytes (big-endian) mod
 * 10, 0–7 train, 8 validation, 9 test. It depends on nothing but the id, so a product keeps its split
 * across snapshots and retrains, evaluate can recompute it, and the test rows never leak into training
 * as the catalogue grows. Train still writes the test ids down (split.json) so evaluate scores exactly them.
 */
import { createHash } from 'node:crypto';

export type Split = 'train' | 'val' | 'test';

export function splitOf(id: string): Split {
  const bucket = createHash('sha256').update(id).digest().readUInt32BE(0) % 10;
  return bucket < 8 ? 'train' : bucket === 8 ? 'val' : 'test';
}

/** The rule above in words, written into split.json beside each model. */
export const SPLIT_RULE = 'sha256(product id) first 4 bytes big-endian mod 10: 0-7 train, 8 validation, 9 test';
