/**
 * `npm run compile-pipeline`: writes the Kubeflow Pipelines v2 spec of the marketplace pipeline
 * (`pipelines/dist/marketplace-ranking.yaml` unless --out says otherwise), ready to upload in the
 * Kubeflow UI or with `pipelines/kfp.ts`. The same input gives the same bytes.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCommand, InputError, printSummary, runMain } from '../components/core/index.js';
import { compilePipeline, PipelineCompileError, toYaml, type PipelineDefinition } from './dsl/index.js';
import { marketplaceRanking } from './marketplace-ranking.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUTPUT = path.join(HERE, 'dist', 'marketplace-ranking.yaml');

async function projectVersion(): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(HERE, '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

export interface CompileCommandOptions {
  out: string;
  imageRegistry: string;
  imageTag?: string;
}

/** Compiles `definition` to YAML text with the project's version as image tag and compiler version. */
export async function compileToYaml(definition: PipelineDefinition, options: Omit<CompileCommandOptions, 'out'>): Promise<string> {
  const version = await projectVersion();
  const imageTag = options.imageTag ?? version;
  if (imageTag === 'latest') throw new InputError('--image-tag latest is refused: a pipeline must name the exact images it runs');
  try {
    return toYaml(definition, compilePipeline(definition, { imageRegistry: options.imageRegistry, imageTag, compilerVersion: `marketplace-ranking-${version}` }));
  } catch (error) {
    if (error instanceof PipelineCompileError) throw new InputError(error.message);
    throw error;
  }
}

const program = createCommand('compile-pipeline', 'Compile the marketplace pipeline to a Kubeflow Pipelines v2 spec (IR YAML).')
  .option('--out <file>', 'where to write the spec', DEFAULT_OUTPUT)
  .option('--image-registry <prefix>', 'registry and namespace of the component images (default $IMAGE_REGISTRY or "marketplace")', process.env['IMAGE_REGISTRY'] || 'marketplace')
  .option('--image-tag <tag>', 'tag of the component images (default: the project version)')
  .action(async (options: CompileCommandOptions) => {
    const yaml = await compileToYaml(marketplaceRanking, options);
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, yaml);
    printSummary({ pipeline: marketplaceRanking.name, out: options.out, bytes: Buffer.byteLength(yaml) });
  });

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(program);
