/**
 * `tsx components/evaluate/pictures-main.ts --model <dir>`: image-only accuracy and picture-to-listing
 * precision@10 of a trained picture model on Fashion-MNIST's official test split, beside raw pixels in
 * the same run (see pictures.ts). Prints one JSON line; `--out` also gets pictures-evaluation.json and a
 * contact sheet (query, our top 10, raw pixels' top 10) per example query.
 */
import { createCommand, createLogger, positiveInteger, printSummary, runMain } from '../core/platform/index.js';
import { FASHION_MNIST_DIR } from '../core/contracts/index.js';
import { evaluatePictures } from './pictures.js';

const program = createCommand('evaluate-pictures', "Score a picture model on Fashion-MNIST's official test split against raw pixels")
  .requiredOption('--model <dir>', 'folder holding image_encoder.onnx')
  .option('--data <dir>', 'folder of the IDX .gz files', FASHION_MNIST_DIR)
  .option('--out <dir>', 'where pictures-evaluation.json and the contact sheets go')
  .option('--limit-train <n>', 'the first n training pictures only (a quick run)', positiveInteger)
  .option('--limit-test <n>', 'the first n test pictures only (a quick run)', positiveInteger)
  .option('--examples <list>', 'test pictures to show with their top results', (v: string) => v.split(',').map(Number), [0, 4])
  .action(async (opts: { model: string; data: string; out?: string; limitTrain?: number; limitTest?: number; examples: number[] }) => {
    const log = createLogger('evaluate-pictures');
    const result = await evaluatePictures(
      {
        model: opts.model,
        data: opts.data,
        out: opts.out,
        limitTrain: opts.limitTrain,
        limitTest: opts.limitTest,
        exampleQueries: opts.examples,
      },
      log,
    );
    printSummary({
      catalogue: result.catalogue,
      ours: { accuracy: result.ours.accuracy, macroF1: result.ours.macroF1, precisionAt10: result.ours.precisionAt10 },
      rawPixels: result.rawPixels,
      onnxPicturesPerSecond: Math.round(result.onnxPicturesPerSecond),
      seconds: result.seconds,
    });
  });

if (import.meta.url === `file://${process.argv[1]}`) await runMain(program);
