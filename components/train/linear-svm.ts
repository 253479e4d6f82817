/**
 * A linear SVM over the sparse text features (one-vs-rest, squared hinge, L2), solved exactly by dual
 * coordinate descent (Hsieh et al., ICML 2008: the LIBLINEAR solver scikit-learn's LinearSVC runs).
 *
 * Why it is here: on this data a linear SVM over word and character n-grams is the strongest text
 * classifier (the TF-IDF + LinearSVC floor), and Adam with early stopping on the same linear model
 * lands 1–2 points below what the exact solution reaches. The solution becomes the model's "wide"
 * part: its weights load into the text tower's wide WeightedBag, frozen, and the deep tower learns the
 * embedding space around it.
 */
import type { SparseDoc } from '../core/ml/index.js';
import { seededRandom } from '../core/platform/index.js';

export interface SvmOptions {
  /** Inverse regularisation strength (LinearSVC's C). */
  c: number;
  /** Passes over the data at most. */
  maxPasses: number;
  /** Stop when the projected gradient's spread falls below this. */
  tolerance: number;
  seed: number;
}

export const SVM_DEFAULTS: SvmOptions = { c: 1, maxPasses: 200, tolerance: 0.1, seed: 1 };

export interface LinearModel {
  /** buckets × classes, row-major: the weight of bucket b for class k at b * classes + k. */
  weights: Float32Array;
  bias: Float32Array;
}

/**
 * Fits one binary SVM per class (the class against the rest) over `docs`; a constant feature of value 1
 * gives each its bias, regularised like the other weights, as LIBLINEAR's bias term is.
 */
export function fitLinearSvm(
  docs: readonly SparseDoc[],
  labels: Int32Array,
  classes: number,
  buckets: number,
  options: SvmOptions = SVM_DEFAULTS,
): LinearModel {
  const n = docs.length;
  const diagonal = 1 / (2 * options.c);
  const squaredNorm = docs.map((doc) => doc.weights.reduce((sum, w) => sum + w * w, 0) + 1 + diagonal);
  const weights = new Float32Array(buckets * classes);
  const bias = new Float32Array(classes);
  const random = seededRandom(options.seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let k = 0; k < classes; k++) {
    const w = new Float64Array(buckets);
    let b = 0;
    const alpha = new Float64Array(n);
    for (let pass = 0; pass < options.maxPasses; pass++) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let maxPg = -Infinity;
      let minPg = Infinity;
      for (const i of order) {
        const doc = docs[i]!;
        const y = labels[i] === k ? 1 : -1;
        let margin = b;
        for (let f = 0; f < doc.ids.length; f++) margin += w[doc.ids[f]!]! * doc.weights[f]!;
        const gradient = y * margin - 1 + diagonal * alpha[i]!;
        const projected = alpha[i] === 0 ? Math.min(gradient, 0) : gradient;
        maxPg = Math.max(maxPg, projected);
        minPg = Math.min(minPg, projected);
        if (Math.abs(projected) > 1e-12) {
          const previous = alpha[i]!;
          alpha[i] = Math.max(previous - gradient / squaredNorm[i]!, 0);
          const step = (alpha[i]! - previous) * y;
          for (let f = 0; f < doc.ids.length; f++) w[doc.ids[f]!]! += step * doc.weights[f]!;
          b += step;
        }
      }
      if (maxPg - minPg < options.tolerance) break;
    }
    for (let bucket = 0; bucket < buckets; bucket++) if (w[bucket] !== 0) weights[bucket * classes + k] = w[bucket]!;
    bias[k] = b;
  }
  return { weights, bias };
}
