/**
 * A component's declaration: its image and command line, typed inputs and outputs, environment,
 * resources and Kubernetes platform settings (Secrets and ConfigMaps as env, node selector,
 * tolerations). component.ts turns one into a function that adds tasks.
 */
import type { IOSpecs } from './io.js';

export interface Resources {
  /** CPU limit and request, Kubernetes quantities: '2', '500m'. */
  cpu?: string;
  cpuRequest?: string;
  /** Memory limit and request: '4Gi', '512Mi'. */
  memory?: string;
  memoryRequest?: string;
  /** GPUs: count and resource type (default nvidia.com/gpu). */
  gpu?: { count: number; type?: string };
}

export interface Toleration {
  key: string;
  operator: 'Equal' | 'Exists';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

/** Environment taken from a Kubernetes Secret or ConfigMap: env var -> key in the object. */
export interface EnvFrom {
  name: string;
  keys: Readonly<Record<string, string>>;
  optional?: boolean;
}

export interface Platform {
  secretEnv?: readonly EnvFrom[];
  configMapEnv?: readonly EnvFrom[];
  nodeSelector?: Readonly<Record<string, string>>;
  tolerations?: readonly Toleration[];
}

/** The placeholders `args` builds a command line from. */
export type Placeholders<Specs extends IOSpecs> = { readonly [K in keyof Specs]: string };

export interface ComponentSpec<I extends IOSpecs, O extends IOSpecs> {
  /** Kebab-case: the task and component names derive from it. */
  name: string;
  description?: string;
  /** The image's repository name; the compiler prefixes the registry and appends the tag. */
  image: string;
  command: readonly string[];
  inputs: I;
  outputs: O;
  args(placeholders: { inputs: Placeholders<I>; outputs: Placeholders<O> }): readonly string[];
  /** Plain environment variables (nothing secret: those come from `platform.secretEnv`). */
  env?: Readonly<Record<string, string>>;
  resources?: Resources;
  platform?: Platform;
  /** Defaults for every task of this component. */
  caching?: boolean;
  retries?: number;
}

export interface ComponentDefinition<I extends IOSpecs = IOSpecs, O extends IOSpecs = IOSpecs> extends ComponentSpec<I, O> {
  /** The command line with KFP placeholders filled in (computed once). */
  readonly renderedArgs: readonly string[];
}
