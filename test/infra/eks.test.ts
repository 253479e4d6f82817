/**
 * The EKS cluster definition (no AWS here): eks/cluster.yaml parses as an eksctl ClusterConfig with
 * a CPU and a GPU node group, OIDC, and IAM policies confined to the bucket prefix; the GPU group's
 * labels and taints are exactly what the pipeline's train task selects and tolerates, and the CPU
 * group's nodes take every other task; the Kubeflow install is pinned.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import * as components from '../../pipelines/marketplace/components.js';
import { cpuToFloat, memoryToGb } from '../../pipelines/dsl/compiler/index.js';
import { REPO_ROOT } from '../helpers.js';

const Statement = z.object({
  Effect: z.literal('Allow'),
  Action: z.array(z.string()),
  Resource: z.array(z.string()),
  Condition: z.record(z.string(), z.record(z.string(), z.array(z.string()))).optional(),
});
const NodeGroup = z.object({
  name: z.string(),
  instanceType: z.string(),
  minSize: z.number().int(),
  maxSize: z.number().int(),
  labels: z.record(z.string(), z.string()),
  taints: z
    .array(z.object({ key: z.string(), value: z.string().optional(), effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']) }))
    .optional(),
});
const ClusterConfig = z.object({
  apiVersion: z.literal('eksctl.io/v1alpha5'),
  kind: z.literal('ClusterConfig'),
  metadata: z.object({ name: z.string(), region: z.string(), version: z.string() }),
  iam: z.object({
    withOIDC: z.literal(true),
    serviceAccounts: z.array(
      z.object({
        metadata: z.object({ name: z.string(), namespace: z.string() }),
        roleName: z.string(),
        attachPolicy: z.object({ Version: z.string(), Statement: z.array(Statement) }),
      }),
    ),
  }),
  managedNodeGroups: z.array(NodeGroup),
});

const config = ClusterConfig.parse(parseYaml(readFileSync(path.join(REPO_ROOT, 'eks', 'cluster.yaml'), 'utf8')));
const group = (name: string) => {
  const found = config.managedNodeGroups.find((g) => g.name === name);
  assert.ok(found, `node group ${name}`);
  return found;
};
type Toleration = { key?: string; operator?: string; value?: string; effect?: string };
const tolerates = (tolerations: readonly Toleration[], taint: { key: string; value?: string; effect: string }) =>
  tolerations.some(
    (t) =>
      t.key === taint.key && (t.effect === undefined || t.effect === taint.effect) && (t.operator === 'Exists' || t.value === taint.value),
  );
const definitions = Object.values(components).map((c) => c.definition);

describe('the EKS cluster (eks/cluster.yaml)', () => {
  it('parses as a ClusterConfig with OIDC, a CPU and a GPU node group', () => {
    assert.equal(config.metadata.name, 'marketplace');
    assert.match(group('gpu').instanceType, /^(g4dn|g5|g6|p3|p4d|p5)\./, 'a GPU instance type');
    assert.doesNotMatch(group('cpu').instanceType, /^(g\d|p\d)/);
    assert.equal(group('cpu').taints, undefined, 'the CPU group takes any pod');
  });

  it("the GPU node group's labels and taints match train's node selector and tolerations", () => {
    const train = components.train.definition;
    const selector = train.platform?.nodeSelector ?? {};
    assert.ok(Object.keys(selector).length > 0, 'train selects a node group');
    for (const [key, value] of Object.entries(selector)) assert.equal(group('gpu').labels[key], value, `gpu label ${key}`);
    const taints = group('gpu').taints ?? [];
    assert.ok(taints.some((taint) => taint.key === 'nvidia.com/gpu' && taint.effect === 'NoSchedule'));
    for (const taint of taints) assert.ok(tolerates(train.platform?.tolerations ?? [], taint), `train tolerates ${taint.key}`);
    // No other task can land on (or is pinned to) the GPU nodes.
    for (const definition of definitions.filter((d) => d.name !== 'train')) {
      assert.ok(
        !taints.some((taint) => tolerates(definition.platform?.tolerations ?? [], taint)),
        `${definition.name} stays off the GPU nodes`,
      );
      for (const [key, value] of Object.entries(definition.platform?.nodeSelector ?? {}))
        assert.equal(group('cpu').labels[key], value, definition.name);
    }
  });

  it('every task fits a node of the group its selector and tolerations send it to: requests below allocatable, limits at or above requests', () => {
    const Capacity = z.object({
      instanceTypes: z.record(
        z.string(),
        z.object({
          vcpu: z.number(),
          memoryGiB: z.number(),
          kubeletMemoryGiB: z.number(),
          maxPods: z.number().int(),
          gpus: z.number().int(),
        }),
      ),
      evictionHardMemoryMiB: z.number(),
      daemonSets: z.object({ cpuMillis: z.number(), memoryMiB: z.number() }),
    });
    const capacity = Capacity.parse(parseYaml(readFileSync(path.join(REPO_ROOT, 'eks', 'node-capacity.yaml'), 'utf8')));
    // The EKS AMI's kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% beyond.
    const reservedCpu = (cores: number) => [60, 10, 5, 5].slice(0, cores).reduce((a, b) => a + b, 0) + Math.max(0, cores - 4) * 2.5;
    const allocatable = (instanceType: string) => {
      const node = capacity.instanceTypes[instanceType];
      assert.ok(node, `eks/node-capacity.yaml describes ${instanceType}`);
      return {
        cpuMillis: node.vcpu * 1000 - reservedCpu(node.vcpu) - capacity.daemonSets.cpuMillis,
        memoryMiB:
          node.kubeletMemoryGiB * 1024 - (255 + 11 * node.maxPods) - capacity.evictionHardMemoryMiB - capacity.daemonSets.memoryMiB,
        gpus: node.gpus,
      };
    };
    // The groups a pod can land on: every selected label matches, and every taint is tolerated.
    const groupsFor = (definition: (typeof definitions)[number]) =>
      config.managedNodeGroups.filter(
        (g) =>
          Object.entries(definition.platform?.nodeSelector ?? {}).every(([key, value]) => g.labels[key] === value) &&
          (g.taints ?? []).every((taint) => tolerates(definition.platform?.tolerations ?? [], taint)),
      );
    const millis = (q: string) => Math.round(cpuToFloat(q) * 1000);
    const mebibytes = (q: string) => (memoryToGb(q) * 1e9) / 2 ** 20;
    assert.equal(
      groupsFor(components.train.definition)
        .map((g) => g.name)
        .join(),
      'gpu',
    );
    assert.equal(allocatable('m6i.xlarge').cpuMillis, 3670, 'hand-worked: 4000 - (60+10+5+5) - 250');
    assert.equal(allocatable('m6i.xlarge').memoryMiB, 15 * 1024 - (255 + 11 * 58) - 100 - 400);
    for (const definition of definitions) {
      const resources = definition.resources ?? {};
      const groups = groupsFor(definition);
      assert.ok(groups.length > 0, `${definition.name}: no node group takes it`);
      const cpu = millis(resources.cpuRequest ?? resources.cpu ?? '0');
      const memory = mebibytes(resources.memoryRequest ?? resources.memory ?? '0');
      if (resources.cpu) assert.ok(millis(resources.cpu) >= cpu, `${definition.name}: CPU limit below its request`);
      if (resources.memory) assert.ok(mebibytes(resources.memory) >= memory, `${definition.name}: memory limit below its request`);
      for (const g of groups) {
        const node = allocatable(g.instanceType);
        assert.ok(
          cpu <= node.cpuMillis,
          `${definition.name} requests ${cpu}m CPU; a ${g.instanceType} (${g.name}) can give ${node.cpuMillis}m`,
        );
        assert.ok(
          memory <= node.memoryMiB,
          `${definition.name} requests ${Math.round(memory)} MiB; a ${g.instanceType} (${g.name}) can give ${node.memoryMiB} MiB`,
        );
        assert.ok((resources.gpu?.count ?? 0) <= node.gpus, `${definition.name} asks for GPUs a ${g.instanceType} does not have`);
      }
    }
  });

  it('the IRSA roles reach only the bucket prefix: the search service reads, the pipeline reads and writes', () => {
    const account = (namespace: string, name: string) => {
      const found = config.iam.serviceAccounts.find((sa) => sa.metadata.namespace === namespace && sa.metadata.name === name);
      assert.ok(found, `${namespace}/${name}`);
      return found;
    };
    const search = account('marketplace', 'search');
    const pipeline = account('kubeflow', 'pipeline-runner');
    for (const sa of [search, pipeline]) {
      for (const statement of sa.attachPolicy.Statement) {
        for (const action of statement.Action) assert.match(action, /^s3:[A-Za-z]+$/, `${sa.roleName}: ${action} (no wildcard)`);
        for (const resource of statement.Resource) {
          if (statement.Action.includes('s3:ListBucket')) {
            assert.match(resource, /^arn:aws:s3:::[a-z0-9.-]+$/);
            assert.deepEqual(statement.Condition?.['StringLike']?.['s3:prefix'], ['prod/*'], 'listing limited to the prefix');
          } else assert.match(resource, /^arn:aws:s3:::[a-z0-9.-]+\/prod\/\*$/, `${sa.roleName}: ${resource}`);
        }
      }
    }
    const actions = (sa: typeof search) => sa.attachPolicy.Statement.flatMap((s) => s.Action);
    assert.ok(!actions(search).some((action) => /Put|Delete/.test(action)), 'the search service cannot write');
    assert.ok(actions(pipeline).includes('s3:PutObject'));
    // The manifests annotate the search ServiceAccount with a role of this name (prod overlay).
    const overlay = readFileSync(path.join(REPO_ROOT, 'manifests', 'overlays', 'prod', 'serviceaccount.yaml'), 'utf8');
    assert.ok(overlay.includes(`:role/${search.roleName}`));
  });

  it('up.sh installs a pinned Kubeflow Pipelines and refuses unpinned images', () => {
    const script = readFileSync(path.join(REPO_ROOT, 'eks', 'up.sh'), 'utf8');
    assert.match(script, /KFP_VERSION="\$\{KFP_VERSION:-\d+\.\d+\.\d+\}"/);
    assert.match(script, /cluster-scoped-resources\?ref=\$KFP_VERSION/);
    assert.match(script, /env\/platform-agnostic\?ref=\$KFP_VERSION/);
    assert.match(script, /TAG=latest is refused/);
    assert.doesNotMatch(script, /--from-literal=url=/, 'the database URL never goes on a command line');
  });
});
