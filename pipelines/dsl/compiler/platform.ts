/** The Kubernetes platform spec (second YAML document): Secrets and ConfigMaps as env, node selectors, tolerations. */
import type { ComponentDefinition } from '../component-spec.js';
import type { JsonObject } from './json.js';

export function platformSpec(component: ComponentDefinition): JsonObject | undefined {
  const platform = component.platform;
  if (!platform) return undefined;
  const spec: JsonObject = {};
  const asEnv =
    (kind: 'secret' | 'configMap') => (source: { name: string; keys: Readonly<Record<string, string>>; optional?: boolean }) => ({
      keyToEnv: Object.entries(source.keys).map(([envVar, key]) => ({ envVar, [kind === 'secret' ? 'secretKey' : 'configMapKey']: key })),
      optional: source.optional ?? false,
      ...(kind === 'secret'
        ? { secretName: source.name, secretNameParameter: { runtimeValue: { constant: source.name } } }
        : { configMapName: source.name, configMapNameParameter: { runtimeValue: { constant: source.name } } }),
    });
  if (platform.secretEnv?.length) spec['secretAsEnv'] = platform.secretEnv.map(asEnv('secret'));
  if (platform.configMapEnv?.length) spec['configMapAsEnv'] = platform.configMapEnv.map(asEnv('configMap'));
  if (platform.nodeSelector) spec['nodeSelector'] = { labels: { ...platform.nodeSelector } };
  if (platform.tolerations?.length) {
    spec['tolerations'] = platform.tolerations.map((t) => ({
      ...(t.effect ? { effect: t.effect } : {}),
      key: t.key,
      operator: t.operator,
      // int64 fields are strings in proto JSON, as the reference toleration.yaml shows.
      ...(t.tolerationSeconds !== undefined ? { tolerationSeconds: String(t.tolerationSeconds) } : {}),
      ...(t.value !== undefined ? { value: t.value } : {}),
    }));
  }
  return Object.keys(spec).length > 0 ? spec : undefined;
}
