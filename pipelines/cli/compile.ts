/**
 * `npm run compile-pipeline`: writes the Kubeflow Pipelines v2 spec of the marketplace pipeline
 * (`pipelines/dist/marketplace-ranking.yaml` unless --out says otherwise), ready to upload in the
 * Kubeflow UI or with `pipelines/kfp.ts`. The same input gives the same bytes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCommand, InputError, printSummary, runMain } from '../components/core/platform/index.js';
import { compilePipeline, PipelineCompileError, toYaml, type PipelineDefinition } from './dsl/index.js';
import { DEFAULT_KFP_VERSION } from './dsl/compiler/targets.js';
import { marketplaceRanking } from './marketplace-ranking.js';

/** The project's root: the nearest folder above this module with the package.json (source or dist/ alike). */
function projectRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the project package.json above pipelines/compile');
  }
}

const ROOT = projectRoot();
export const DEFAULT_OUTPUT = path.join(ROOT, 'pipelines', 'dist', 'marketplace-ranking.yaml');
/**
 * Where images come from when nobody said: a host in the reserved `.invalid` domain (RFC 2606), which
 * no node can resolve, so a spec compiled without a registry can never pull a stranger's image from
 * Docker Hub; `npm run kfp` refuses it outright.
 */
export const PLACEHOLDER_REGISTRY_HOST = 'registry.invalid';
export const PLACEHOLDER_REGISTRY = `${PLACEHOLDER_REGISTRY_HOST}/marketplace`;

async function projectVersion(): Promise<string> {
  return (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface CompileCommandOptions {
  out: string;
  imageRegistry: string;
  imageTag?: string;
  /** The KFP backend release the cluster runs (default DEFAULT_KFP_VERSION): what it cannot run is refused. */
  kfpVersion?: string;
}

/** Compiles `definition` to YAML text with the project's version as image tag and compiler version. */
export async function compileToYaml(definition: PipelineDefinition, options: Omit<CompileCommandOptions, 'out'>): Promise<string> {
  const version = await projectVersion();
  const imageTag = options.imageTag ?? version;
  if (imageTag === 'latest') throw new InputError('--image-tag latest is refused: a pipeline must name the exact images it runs');
  try {
    const compiled = compilePipeline(definition, {
      imageRegistry: options.imageRegistry,
      imageTag,
      compilerVersion: `marketplace-ranking-${version}`,
      kfpVersion: options.kfpVersion ?? DEFAULT_KFP_VERSION,
    });
    return toYaml(definition, compiled);
  } catch (error) {
    if (error instanceof PipelineCompileError) throw new InputError(error.message);
    throw error;
  }
}

const program = createCommand('compile-pipeline', 'Compile the marketplace pipeline to a Kubeflow Pipelines v2 spec (IR YAML).')
  .option('--out <file>', 'where to write the spec', DEFAULT_OUTPUT)
  .option(
    '--image-registry <prefix>',
    `registry and namespace of the component images, e.g. 123456789012.dkr.ecr.eu-west-2.amazonaws.com/marketplace (default $IMAGE_REGISTRY, else the unpullable placeholder ${PLACEHOLDER_REGISTRY})`,
    process.env['IMAGE_REGISTRY'] || PLACEHOLDER_REGISTRY,
  )
  .option('--image-tag <tag>', 'tag of the component images (default: the project version)')
  .option('--kfp-version <release>', 'the Kubeflow Pipelines release the cluster runs: constructs it cannot run are refused', DEFAULT_KFP_VERSION)
  .action(async (options: CompileCommandOptions) => {
    const yaml = await compileToYaml(marketplaceRanking, options);
    await mkdir(path.dirname(options.out), { recursive: true });
    await writeFile(options.out, yaml);
    printSummary({ pipeline: marketplaceRanking.name, out: options.out, bytes: Buffer.byteLength(yaml) });
  });

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await runMain(program);
