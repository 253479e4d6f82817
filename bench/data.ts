/**
 * The full real export the benchmarks run on: `MARKETPLACE_DATA`, else `../shared/data` beside the
 * repository. (The tests use the committed sample, test/fixtures/gumtree-sample; a benchmark on 645
 * listings would measure start-up, not throughput.) Each benchmark's `--data` overrides it.
 */
import path from 'node:path';
import { REPO_ROOT } from '../test/helpers.js';

export const FULL_EXPORT = process.env['MARKETPLACE_DATA'] ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');
