/**
 * The two layers the towers need that TF.js does not ship. Both are registered for serialisation (so
 * `model.save` / `tf.loadLayersModel` round-trip) and both have a direct ONNX translation in
 * ../onnx (the exporter matches them by class name).
 *
 * - WeightedBag: a weighted embedding bag, Σ_l w[n,l] · E[ids[n,l]] (+ bias). Inputs `[ids, weights]`,
 *   ids int32 [N, L], weights float32 [N, L]; padding is id 0 with weight 0. This is how hashed sparse
 *   TF-IDF features meet a dense table without materialising the sparse matrix.
 * - L2Normalize: x / sqrt(max(Σ x², EPS)) on the last axis.
 */
import * as tf from '@tensorflow/tfjs';

export const L2_EPSILON = 1e-12;

interface WeightedBagConfig {
  inputDim: number;
  outputDim: number;
  useBias?: boolean;
  /** Uniform init range for the table; 0 starts every row at zero (what a linear "wide" part wants). */
  initScale?: number;
  name?: string;
  trainable?: boolean;
}

export class WeightedBag extends tf.layers.Layer {
  static className = 'WeightedBag';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly useBias: boolean;
  readonly initScale: number;
  private table!: tf.LayerVariable;
  private bias: tf.LayerVariable | undefined;

  constructor(config: WeightedBagConfig) {
    super(config);
    this.inputDim = config.inputDim;
    this.outputDim = config.outputDim;
    this.useBias = config.useBias ?? false;
    this.initScale = config.initScale ?? 0.05;
  }

  override build(): void {
    const init = this.initScale > 0 ? tf.initializers.randomUniform({ minval: -this.initScale, maxval: this.initScale }) : tf.initializers.zeros();
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
      const [ids, weights] = inputs as tf.Tensor[];
      if (!ids || !weights) throw new Error('WeightedBag takes [ids, weights]');
      const rows = tf.gather(this.table.read(), tf.cast(ids, 'int32')); // [N, L, D]
      const bag = tf.sum(tf.mul(rows, tf.expandDims(weights, 2)), 1);
      return this.bias ? tf.add(bag, this.bias.read()) : bag;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), inputDim: this.inputDim, outputDim: this.outputDim, useBias: this.useBias, initScale: this.initScale };
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

tf.serialization.registerClass(WeightedBag);
tf.serialization.registerClass(L2Normalize);
