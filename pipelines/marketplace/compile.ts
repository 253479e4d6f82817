/**
 * The product's pipeline compiled the way this project ships it: the project's version as image tag
 * and compiler version, images from a named registry (or the unpullable placeholder), the KFP
 * release the cluster runs. Used by `npm run compile-pipeline`, `npm start` and the tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../components/core/platform/index.js';
import { compilePipeline, PipelineCompileError, toYaml, type PipelineDefinition } from '../dsl/index.js';
import { DEFAULT_KFP_VERSION } from '../dsl/compiler/targets.js';

/** The project's root: the nearest folder above this module with the package.json (source or dist/ alike). */
function projectRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error('cannot find the project package.json above pipelines/marketplace');
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
