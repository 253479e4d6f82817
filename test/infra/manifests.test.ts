/**
 * The Kubernetes objects in manifests/: every one validates against the Kubernetes OpenAPI schemas
 * (kubernetes-models; the ServiceMonitor against the Prometheus Operator's), the overlays resolve
 * (a small kustomize-like strategic merge, enough for these patches) and still validate, and the
 * objects agree with the code: the Deployment and container deploy patches, the probes the search
 * service answers, the calls the deployer role allows, the metrics the dashboard plots.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { deploy as deployComponent } from '../../pipelines/marketplace/components.js';
import { REPO_ROOT } from '../helpers.js';

type Obj = Record<string, unknown>;
const MANIFESTS = path.join(REPO_ROOT, 'manifests');

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

function validate(object: Obj, where: string): void {
  const key = `${String(object['apiVersion'])}/${String(object['kind'])}`;
  const Model = MODELS[key];
  assert.ok(Model, `${where}: no schema for ${key}`);
  assert.doesNotThrow(() => new Model(object as never).validate(), `${where}: ${key} does not validate`);
}

function readDocuments(file: string): Obj[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((document) => document.toJS() as Obj)
    .filter(Boolean);
}

interface Kustomization {
  namespace?: string;
  resources: string[];
  patches?: { path: string }[];
  images?: { name: string; newName?: string; newTag?: string }[];
  configMapGenerator?: { name: string; files: string[] }[];
}
const readKustomization = (dir: string) => parseYaml(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;

/** Strategic merge as kustomize does it for these objects: maps merge, lists of named items merge by name. */
function merge(base: unknown, patch: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((item) => item && typeof item === 'object' && 'name' in item)) {
    const out = base.map((item) => {
      const match = patch.find((p: Obj) => p['name'] === (item as Obj)['name']);
      return match ? merge(item, match) : item;
    });
    for (const item of patch as Obj[]) if (!base.some((b: Obj) => b['name'] === item['name'])) out.push(item);
    return out;
  }
  if (base && patch && typeof base === 'object' && typeof patch === 'object' && !Array.isArray(base) && !Array.isArray(patch)) {
    const out: Obj = { ...(base as Obj) };
    for (const [key, value] of Object.entries(patch as Obj)) out[key] = key in out ? merge(out[key], value) : value;
    return out;
  }
  return patch;
}

const idOf = (object: Obj) => `${String(object['kind'])}/${String((object['metadata'] as Obj)['name'])}`;

/** A directory's objects after its resources, patches, namespace and images: enough kustomize for these files. */
function build(dir: string): Obj[] {
  const kustomization = readKustomization(dir);
  let objects: Obj[] = [];
  for (const resource of kustomization.resources) {
    const target = path.join(dir, resource);
    assert.ok(existsSync(target), `${dir}: resource ${resource} exists`);
    objects.push(...(existsSync(path.join(target, 'kustomization.yaml')) ? build(target) : readDocuments(target)));
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const entry of generator.files) {
      const [key = '', file = key] = entry.split('=');
      data[path.basename(key)] = readFileSync(path.join(dir, file), 'utf8');
    }
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: generator.name }, data });
  }
  for (const { path: patchFile } of kustomization.patches ?? []) {
    for (const patch of readDocuments(path.join(dir, patchFile))) {
      const index = objects.findIndex((object) => idOf(object) === idOf(patch));
      assert.ok(index >= 0, `${dir}/${patchFile}: patches ${idOf(patch)}, which the base defines`);
      objects[index] = merge(objects[index], patch) as Obj;
    }
  }
  if (kustomization.namespace) {
    objects = objects.map((object) =>
      object['kind'] === 'Namespace'
        ? object
        : { ...object, metadata: { ...(object['metadata'] as Obj), namespace: kustomization.namespace } },
    );
  }
  for (const image of kustomization.images ?? []) {
    let used = false;
    for (const object of objects.filter((o) => o['kind'] === 'Deployment')) {
      for (const container of containersOf(object)) {
        const name = String(container['image']).split(':')[0]?.split('@')[0];
        const bare = name?.split('/').pop();
        if (name === image.name || bare === image.name) {
          container['image'] = `${image.newName ?? name}:${image.newTag ?? 'unset'}`;
          used = true;
        }
      }
    }
    assert.ok(used, `${dir}: image ${image.name} is used by a container`);
  }
  return objects;
}

function containersOf(deployment: Obj): Obj[] {
  return ((((deployment['spec'] as Obj)['template'] as Obj)['spec'] as Obj)['containers'] as Obj[]) ?? [];
}

const find = (objects: Obj[], kind: string, name: string) => {
  const found = objects.find((object) => idOf(object) === `${kind}/${name}`);
  assert.ok(found, `${kind}/${name}`);
  return found;
};

describe('manifests', () => {
  const baseDir = path.join(MANIFESTS, 'base');
  const base = build(baseDir);

  it('every base object validates against the Kubernetes schemas (and the ServiceMonitor against the Prometheus Operator’s)', () => {
    assert.ok(base.length >= 11);
    for (const object of base) validate(object, `base ${idOf(object)}`);
    for (const kind of [
      'Deployment',
      'Service',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'ServiceAccount',
      'NetworkPolicy',
      'ConfigMap',
      'ServiceMonitor',
      'Role',
      'RoleBinding',
    ]) {
      assert.ok(
        base.some((object) => object['kind'] === kind),
        kind,
      );
    }
  });

  it('a schema violation is caught (the validation is real)', () => {
    const broken = structuredClone(find(base, 'Deployment', 'search'));
    (broken['spec'] as Obj)['replicas'] = 'two';
    assert.throws(() => new Deployment(broken as never).validate());
  });

  for (const overlay of ['dev', 'prod']) {
    it(`overlay ${overlay} resolves against the base and every object still validates`, () => {
      const objects = build(path.join(MANIFESTS, 'overlays', overlay));
      assert.equal(objects.length, base.length);
      for (const object of objects) validate(object, `${overlay} ${idOf(object)}`);
      const deployment = find(objects, 'Deployment', 'search');
      assert.match(String(containersOf(deployment)[0]?.['image']), /\/marketplace-serve:[\w.-]+$/);
      assert.doesNotMatch(String(containersOf(deployment)[0]?.['image']), /:latest$/);
      const config = find(objects, 'ConfigMap', 'marketplace-config');
      assert.match(String((config['data'] as Obj)['artifactRoot']), new RegExp(`^s3://[^/]+/${overlay}$`));
      const role = String(
        ((find(objects, 'ServiceAccount', 'search')['metadata'] as Obj)['annotations'] as Obj)['eks.amazonaws.com/role-arn'],
      );
      assert.match(role, new RegExp(`^arn:aws:iam::\\d{12}:role/marketplace-${overlay}-search$`));
      const hpa = find(objects, 'HorizontalPodAutoscaler', 'search')['spec'] as Obj;
      assert.ok(Number((deployment['spec'] as Obj)['replicas']) >= Number(hpa['minReplicas']));
    });
  }

  it('the search Deployment is what deploy patches, probed where the service answers, locked down', () => {
    const deployment = find(base, 'Deployment', 'search');
    const defaults = Object.fromEntries(
      Object.entries(deployComponent.definition.inputs).map(([name, io]) => [name, (io as { default?: unknown }).default]),
    );
    assert.equal((deployment['metadata'] as Obj)['namespace'], defaults['namespace']);
    assert.equal((deployment['metadata'] as Obj)['name'], defaults['deployment']);
    const [container, ...others] = containersOf(deployment);
    assert.equal(others.length, 0, 'one container: deploy picks it without --container');
    assert.ok(container);
    const probePath = (probe: string) => ((container[probe] as Obj)['httpGet'] as Obj)['path'];
    assert.equal(probePath('readinessProbe'), '/readyz');
    assert.equal(probePath('livenessProbe'), '/healthz');
    assert.ok(container['resources'] && (container['resources'] as Obj)['requests']);
    const security = container['securityContext'] as Obj;
    assert.equal(security['readOnlyRootFilesystem'], true);
    assert.equal(security['allowPrivilegeEscalation'], false);
    const pod = ((deployment['spec'] as Obj)['template'] as Obj)['spec'] as Obj;
    assert.equal((pod['securityContext'] as Obj)['runAsNonRoot'], true);
    assert.equal(pod['serviceAccountName'], 'search');
    assert.equal(((deployment['spec'] as Obj)['strategy'] as Obj)['type'], 'RollingUpdate');
  });

  it('the deployer role allows exactly the calls the deploy component makes, to the pipeline’s service account', () => {
    const rules = find(base, 'Role', 'search-deployer')['rules'] as { resources: string[]; verbs: string[] }[];
    const allows = (resource: string, verb: string) => rules.some((rule) => rule.resources.includes(resource) && rule.verbs.includes(verb));
    for (const [resource, verb] of [
      ['deployments', 'get'],
      ['deployments', 'patch'],
      ['deployments/status', 'get'],
      ['replicasets', 'list'],
    ] as const)
      assert.ok(allows(resource, verb), `${verb} ${resource}`);
    assert.ok(!rules.some((rule) => rule.verbs.includes('*') || rule.verbs.includes('delete')));
    const subject = (find(base, 'RoleBinding', 'search-deployer')['subjects'] as Obj[])[0];
    assert.deepEqual(subject, { kind: 'ServiceAccount', name: 'pipeline-runner', namespace: 'kubeflow' });
  });

  it('the ConfigMap carries the keys the pipeline’s tasks read, and the ServiceMonitor and NetworkPolicy select the search pods', () => {
    const keys = Object.keys(find(base, 'ConfigMap', 'marketplace-config')['data'] as Obj).sort();
    assert.deepEqual(keys, ['artifactRoot', 'awsRegion', 'logLevel']);
    const labels = (((find(base, 'Deployment', 'search')['spec'] as Obj)['template'] as Obj)['metadata'] as Obj)['labels'] as Obj;
    const monitor = find(base, 'ServiceMonitor', 'search')['spec'] as Obj;
    const serviceLabels = (find(base, 'Service', 'search')['metadata'] as Obj)['labels'] as Obj;
    for (const [key, value] of Object.entries((monitor['selector'] as Obj)['matchLabels'] as Obj)) assert.equal(serviceLabels[key], value);
    assert.equal(((monitor['endpoints'] as Obj[])[0] as Obj)['path'], '/metrics');
    const policy = find(base, 'NetworkPolicy', 'search')['spec'] as Obj;
    for (const [key, value] of Object.entries((policy['podSelector'] as Obj)['matchLabels'] as Obj)) assert.equal(labels[key], value);
  });

  it('the Grafana dashboard plots traffic, latency, errors, the versions in service and drift', () => {
    const dashboard = JSON.parse(readFileSync(path.join(baseDir, 'grafana-dashboard.json'), 'utf8')) as {
      uid: string;
      panels: { type: string; title: string; targets?: { expr: string }[] }[];
    };
    const expressions = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)).join('\n');
    assert.match(expressions, /rate\(http_request_duration_seconds_count/);
    assert.match(expressions, /histogram_quantile\(0\.99, sum by \(le\) \(rate\(http_request_duration_seconds_bucket/);
    assert.match(expressions, /status_code=~"5\.\."/);
    assert.match(expressions, /by \(model_version\) \(search_model_info/);
    assert.match(expressions, /by \(index_version\) \(search_model_info/);
    assert.match(expressions, /search_index_vectors/);
    assert.match(expressions, /marketplace_drift_psi/);
    assert.match(expressions, /marketplace_drift_detected/);
    const configMap = find(base, 'ConfigMap', 'marketplace-dashboard');
    assert.ok(String((configMap['data'] as Obj)['marketplace-search.json']).includes(dashboard.uid));
  });
});
