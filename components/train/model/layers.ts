/**
 * The two layers the towers need that TF.js does not ship. Both are registered for serialisation (so
 * `model.save` / `tf.loadLayersModel` round-trip) and both have a direct ONNX translation in
 * ../onnx (the exporter matches them by class name).
 *
 * - WeightedBag: a weighted embedding bag, Σ_l w[n,l] · E[ids[n,l]] (+ bias). Inputs `[ids, weights]`,
 *   ids int32 [N, L], weights float32 [N, L]; padding is id 0 with weight 0. This is how hashed sparse
 *   TF-IDF features meet a dense table without materialising the sparse matrix.
 * - L2Normalize: x / sqrt(max(Σ x², EPS)) on the last axis.
 * - HierarchicalLogits: root-category logits from a classifier over roots and sub-categories at once.
 *   Input [N, C + S] (C root scores, then S sub-category scores); output [N, C], root k's score plus
 *   `weight` × the best score among its own sub-categories. A listing that looks like a typical
 *   "Home & Garden / Kitchen Appliances" item then counts for Home & Garden even where the root
 *   classifier, which sees the whole of Home & Garden as one blurred class, is unsure.
 */
import * as tf from '@tensorflow/tfjs';

export const L2_EPSILON = 1e-12;

interface WeightedBagConfig {
  inputDim: number;
  outputDim: number;
  useBias?: boolean;
  /** Uniform init range for the table; 0 starts every row at zero (what a linear "wide" part wants). */
  initScale?: number;
  /**
   * Ids at or above `inputDim` contribute nothing (instead of being an error): the deep text bag reads
   * the hashed features only and skips the sentence vector's ids, which follow them.
   */
  skipOutOfRange?: boolean;
  name?: string;
  trainable?: boolean;
}

export class WeightedBag extends tf.layers.Layer {
  static className = 'WeightedBag';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly useBias: boolean;
  readonly initScale: number;
  readonly skipOutOfRange: boolean;
  private table!: tf.LayerVariable;
  private bias: tf.LayerVariable | undefined;

  constructor(config: WeightedBagConfig) {
    super(config);
    this.inputDim = config.inputDim;
    this.outputDim = config.outputDim;
    this.useBias = config.useBias ?? false;
    this.initScale = config.initScale ?? 0.05;
    this.skipOutOfRange = config.skipOutOfRange ?? false;
  }

  override build(): void {
    const init =
      this.initScale > 0 ? tf.initializers.randomUniform({ minval: -this.initScale, maxval: this.initScale }) : tf.initializers.zeros();
    this.table = this.addWeight('embeddings', [this.inputDim, this.outputDim], 'float32', init);
    if (this.useBias) this.bias = this.addWeight('bias', [this.outputDim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const ids = (inputShape as tf.Shape[])[0] ?? [];
    return [ids[0] ?? null, this.outputDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let [ids, weights] = inputs as tf.Tensor[];
      if (!ids || !weights) throw new Error('WeightedBag takes [ids, weights]');
      ids = tf.cast(ids, 'int32');
      if (this.skipOutOfRange) {
        const inside = tf.less(ids, this.inputDim);
        ids = tf.where(inside, ids, tf.zerosLike(ids));
        weights = tf.mul(weights, tf.cast(inside, 'float32'));
      }
      const rows = tf.gather(this.table.read(), ids); // [N, L, D]
      const bag = tf.sum(tf.mul(rows, tf.expandDims(weights, 2)), 1);
      return this.bias ? tf.add(bag, this.bias.read()) : bag;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      inputDim: this.inputDim,
      outputDim: this.outputDim,
      useBias: this.useBias,
      initScale: this.initScale,
      skipOutOfRange: this.skipOutOfRange,
    };
  }
}

export class L2Normalize extends tf.layers.Layer {
  static className = 'L2Normalize';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return inputShape as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => l2Normalize(Array.isArray(inputs) ? inputs[0]! : inputs));
  }
}

/** The one L2 normalisation used by layers, losses and tests. */
export function l2Normalize(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), -1, true), L2_EPSILON)));
}

interface HierarchicalLogitsConfig {
  classes: number;
  /** For each root class, the positions (0-based, among the S sub-category columns) of its sub-categories. */
  groups: number[][];
  weight: number;
  name?: string;
  trainable?: boolean;
}

export class HierarchicalLogits extends tf.layers.Layer {
  static className = 'HierarchicalLogits';
  readonly classes: number;
  readonly groups: number[][];
  readonly weight: number;

  constructor(config: HierarchicalLogitsConfig) {
    super(config);
    if (config.groups.length !== config.classes)
      throw new Error(`HierarchicalLogits: ${config.groups.length} groups for ${config.classes} classes`);
    const empty = config.groups.findIndex((group) => group.length === 0);
    if (empty >= 0) throw new Error(`HierarchicalLogits: class ${empty} has no sub-category`);
    this.classes = config.classes;
    this.groups = config.groups;
    this.weight = config.weight;
  }

  /**
   * The input columns each root's maximum runs over, as a [C, M] table (M: the largest group); a
   * shorter group repeats its first column, which leaves its maximum unchanged.
   */
  gatherTable(): number[][] {
    const width = Math.max(...this.groups.map((group) => group.length));
    return this.groups.map((group) => Array.from({ length: width }, (_, m) => this.classes + (group[m] ?? group[0]!)));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return [(inputShape as tf.Shape)[0] ?? null, this.classes];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor2D;
      const table = this.gatherTable();
      const columns = tf.gather(x, tf.tensor1d(table.flat(), 'int32'), 1); // [N, C·M]
      const best = tf.max(tf.reshape(columns, [-1, this.classes, table[0]!.length]), 2); // [N, C]
      return tf.add(tf.slice(x, [0, 0], [-1, this.classes]), tf.mul(best, this.weight));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), classes: this.classes, groups: this.groups, weight: this.weight };
  }
}

tf.serialization.registerClass(WeightedBag);
tf.serialization.registerClass(HierarchicalLogits);
tf.serialization.registerClass(L2Normalize);
