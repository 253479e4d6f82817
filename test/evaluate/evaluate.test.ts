/**
 * The evaluate component on a trained demo model: classification per modality on the test split,
 * retrieval, the three search modes on the same test queries, the verdict against production (here the
 * same model: not promoted again), the report and metrics written to the store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SEARCH_MODES } from '../../components/core/ml/index.js';
import { evaluateModel } from '../../components/evaluate/evaluate.js';
import { silentLog } from '../helpers.js';
import { demoService, type DemoService } from '../serve-fixture.js';

describe('evaluate on the demo model', () => {
  let demo: DemoService;
  before(async () => {
    demo = await demoService({ perCategory: 8, imageSize: 64 });
  });
  after(async () => demo?.close());

  it('scores the three search modes on the same test queries and puts the table in the report', async () => {
    const evaluation = await evaluateModel(
      demo.store,
      { modelVersion: demo.modelVersion, snapshotId: demo.snapshotId, tolerance: 0.005 },
      silentLog,
    );
    const search = evaluation.candidate.search!;
    assert.ok(search, 'search quality measured');
    const known = search.modes.hybrid.knownItem.queries;
    assert.equal(known, evaluation.candidate.testProducts);
    for (const m of SEARCH_MODES) {
      assert.equal(search.modes[m].knownItem.queries, known, `${m} on the same queries`);
      assert.equal(search.modes[m].short.queries, search.modes.hybrid.short.queries);
      const { recallAt1, recallAt10, mrr } = search.modes[m].knownItem;
      // MRR counts rank 1 fully and ranks past 10 a little: r@1 ≤ MRR ≤ r@10 + 1/11.
      assert.ok(recallAt1 <= mrr + 1e-9 && mrr <= recallAt10 + 1 / 11 + 1e-9, `${m}: r@1 ${recallAt1}, MRR ${mrr}, r@10 ${recallAt10}`);
      assert.ok(search.modes[m].short.ndcgAt10 >= 0 && search.modes[m].short.ndcgAt10 <= 1);
    }
    // Demo titles repeat (8 listings per category share 5 item names): the listing is among its namesakes.
    assert.ok(search.modes.bm25.knownItem.recallAt10 > 0.5, `BM25F recall@10 ${search.modes.bm25.knownItem.recallAt10}`);
    assert.equal(evaluation.metrics['search_hybrid_known_recall_at_10'], search.modes.hybrid.knownItem.recallAt10);
    assert.match(evaluation.report, /BM25F, dense and hybrid side by side/);
    assert.ok(await demo.store.exists(`evaluations/${demo.modelVersion}/metrics.json`));
  });

  it('classifies every test product once per modality, ranks retrieval monotonically, and does not promote the model already serving', async () => {
    const evaluation = await evaluateModel(
      demo.store,
      { modelVersion: demo.modelVersion, snapshotId: demo.snapshotId, tolerance: 0.005 },
      silentLog,
    );
    const combined = evaluation.candidate.classification.combined;
    assert.equal(
      combined.confusion.flat().reduce((a, b) => a + b, 0),
      evaluation.candidate.testProducts,
    );
    const recall = evaluation.candidate.retrieval.recall;
    assert.ok(recall['at1']! <= recall['at10']! && recall['at10']! <= recall['at100']!);
    assert.equal(evaluation.verdict.promote, false, 'the serving record already names this model');
    assert.ok(await demo.store.exists(`evaluations/${demo.modelVersion}/report.html`));
  });
});
