/** `deploymentSpec.executors`: each task's container (image, command, args, env) and resources. */
import type { ComponentDefinition } from '../component-spec.js';
import { PipelineCompileError } from './errors.js';
import { omitEmpty, type JsonObject } from './json.js';

/** Kubernetes CPU quantity to cores: '500m' -> 0.5, '2' -> 2. */
export function cpuToFloat(quantity: string): number {
  const value = quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
  if (!Number.isFinite(value) || value <= 0) throw new PipelineCompileError(`'${quantity}' is not a CPU quantity (e.g. 2, 500m)`);
  return value;
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Kubernetes memory quantity to decimal gigabytes, as the SDK writes the legacy fields: '14Gi' -> 15.032385536. */
export function memoryToGb(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGTPE]i?)?$/.exec(quantity);
  const unit = MEMORY_UNITS[match?.[2] ?? ''];
  if (!match || unit === undefined) throw new PipelineCompileError(`'${quantity}' is not a memory quantity (e.g. 512Mi, 4Gi, 2G)`);
  return (Number(match[1]) * unit) / 1e9;
}

/**
 * Resources as kfp 2.13+ writes them: the quantity strings (`resourceCpuLimit: '2'`) and, for backends
 * that predate those fields, the numeric ones (`cpuLimit: 2.0`, memory in GB); the accelerator likewise.
 */
function resourcesSpec(resources: ComponentDefinition['resources']): JsonObject | undefined {
  if (!resources) return undefined;
  const spec: JsonObject = {};
  const cpuRequest = resources.cpuRequest ?? resources.cpu;
  const memoryRequest = resources.memoryRequest ?? resources.memory;
  if (resources.cpu) Object.assign(spec, { cpuLimit: cpuToFloat(resources.cpu), resourceCpuLimit: resources.cpu });
  if (cpuRequest) Object.assign(spec, { cpuRequest: cpuToFloat(cpuRequest), resourceCpuRequest: cpuRequest });
  if (resources.memory) Object.assign(spec, { memoryLimit: memoryToGb(resources.memory), resourceMemoryLimit: resources.memory });
  if (memoryRequest) Object.assign(spec, { memoryRequest: memoryToGb(memoryRequest), resourceMemoryRequest: memoryRequest });
  if (resources.gpu) {
    const type = resources.gpu.type ?? 'nvidia.com/gpu';
    const count = String(resources.gpu.count);
    spec['accelerator'] = { count, resourceCount: count, resourceType: type, type };
  }
  return Object.keys(spec).length > 0 ? spec : undefined;
}

/** Where the component images live: `<imageRegistry>/<component image>:<imageTag>`. */
export interface ImageOptions {
  /** Prefix of every component image: `123456789012.dkr.ecr.eu-west-2.amazonaws.com/marketplace`. */
  imageRegistry: string;
  /** Tag of every component image (a release version: never `latest`). */
  imageTag: string;
}

export function executorSpec(component: ComponentDefinition, options: ImageOptions): JsonObject {
  const resourceSpec = resourcesSpec(component.resources);
  const env = Object.entries(component.env ?? {}).map(([name, value]) => ({ name, value }));
  return {
    container: {
      args: [...component.renderedArgs],
      command: [...component.command],
      ...omitEmpty({ env }),
      image: `${options.imageRegistry.replace(/\/+$/, '')}/${component.image}:${options.imageTag}`,
      resources: resourceSpec,
    },
  };
}
