/**
 * `npm run compile-pipeline`: writes the Kubeflow Pipelines v2 spec of the marketplace pipeline
 * (`pipelines/dist/marketplace-ranking.yaml` unless --out says otherwise), ready to upload in the
 * Kubeflow UI or with `npm run kfp` (pipelines/cli/kfp.ts). The same input gives the same bytes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createCommand, printSummary, runMain } from '../../components/core/platform/index.js';
import { DEFAULT_KFP_VERSION } from '../dsl/compiler/targets.js';
import { compileToYaml, DEFAULT_OUTPUT, PLACEHOLDER_REGISTRY, type CompileCommandOptions } from '../marketplace/compile.js';
import { marketplaceRanking } from '../marketplace/pipeline.js';

const program = createCommand('compile-pipeline', 'Compile the marketplace pipeline to a Kubeflow Pipelines v2 spec (IR YAML).')
  .option('--out <file>', 'where to write the spec', DEFAULT_OUTPUT)
  .option(
    '--image-registry <prefix>',
    `registry and namespace of the component images, e.g. 123456789012.dkr.ecr.eu-west-2.amazonaws.com/marketplace (default $IMAGE_REGISTRY, else the unpullable placeholder ${PLACEHOLDER_REGISTRY})`,
    process.env['IMAGE_REGISTRY'] || PLACEHOLDER_REGISTRY,
  )
  .option('--image-tag <tag>', 'tag of the component images (default: the project version)')
  .option(
    '--kfp-version <release>',
    'the Kubeflow Pipelines release the cluster runs: constructs it cannot run are refused',
    DEFAULT_KFP_VERSION,
  )
  .action(async (options: CompileCommandOptions) => {
    const yaml = await compileToYaml(marketplaceRanking, options);
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, yaml);
    printSummary({ pipeline: marketplaceRanking.name, out: options.out, bytes: Buffer.byteLength(yaml) });
  });

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(program);
