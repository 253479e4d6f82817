/** The evaluation metrics against values worked out by hand. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kfpConfusionMatrix } from '../../components/core/contracts/index.js';
import { classification, ndcgAtK, recallAtK } from '../../components/core/ml/metrics.js';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-9, `${actual} != ${expected}`);

describe('classification metrics', () => {
  it('accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix', () => {
    const truth = ['a', 'a', 'a', 'b', 'b', 'c'];
    const predicted = ['a', 'a', 'b', 'b', 'c', 'c'];
    const result = classification(truth, predicted);
    close(result.accuracy, 4 / 6);
    assert.deepEqual(result.confusion, [
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    // a: p 1, r 2/3, f1 0.8; b: p 1/2, r 1/2, f1 1/2; c: p 1/2, r 1, f1 2/3.
    close(result.perClass['a']!.f1, 0.8);
    close(result.perClass['b']!.f1, 0.5);
    close(result.perClass['c']!.f1, 2 / 3);
    close(result.macroF1, (0.8 + 0.5 + 2 / 3) / 3);
    assert.deepEqual(kfpConfusionMatrix(result.labels, result.confusion).confusionMatrix.annotationSpecs, [
      { displayName: 'a' },
      { displayName: 'b' },
      { displayName: 'c' },
    ]);
  });

  it('refuses mismatched lengths and unknown labels', () => {
    assert.throws(() => classification(['a'], []), /1 true labels but 0 predictions/);
    assert.throws(() => classification(['a'], ['z'], ['a']), /'z' is not among the labels/);
  });
});

describe('retrieval metrics', () => {
  it('recall@k and nDCG@k with graded relevance', () => {
    const ranked = ['x', 'p', 'y', 'q'];
    assert.equal(recallAtK(ranked, new Set(['p']), 1), 0);
    assert.equal(recallAtK(ranked, new Set(['p']), 2), 1);
    // The product itself has gain 2, same-category products gain 1.
    const gains = new Map([
      ['p', 2],
      ['q', 1],
      ['y', 1],
    ]);
    const dcg = 0 + 3 / Math.log2(3) + 1 / Math.log2(4) + 1 / Math.log2(5);
    const ideal = 3 / Math.log2(2) + 1 / Math.log2(3) + 1 / Math.log2(4);
    close(ndcgAtK(ranked, gains, 10), dcg / ideal);
    close(ndcgAtK(['p', 'q', 'y'], gains, 10), 1);
    assert.equal(ndcgAtK(ranked, new Map(), 10), 0);
  });
});
