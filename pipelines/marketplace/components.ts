/**
 * The product's components as the pipeline sees them: each one's image, command line, typed inputs
 * and outputs, resources and Kubernetes settings, declared once. The command line is the contract
 * each component's CLI (`components/<name>/main.ts`) implements; output parameters are written to the
 * file KFP names (`…output_file`), output artifacts under the path it gives.
 */
import { KFP_EXECUTOR_OUTPUT } from '../../components/core/contracts/index.js';
import { artifact, component, param, PIPELINE_JOB_ID, type Platform } from '../dsl/index.js';

/** Where every component reads and writes: the database URL from a Secret, the rest from a ConfigMap. */
const STORAGE: Platform = {
  secretEnv: [{ name: 'marketplace-database', keys: { DATABASE_URL: 'url' } }],
  configMapEnv: [{ name: 'marketplace-config', keys: { ARTIFACT_ROOT: 'artifactRoot', AWS_REGION: 'awsRegion', LOG_LEVEL: 'logLevel' } }],
};

/** Training runs on the GPU node group (eks/): selected by label, tolerating its taint. */
const GPU_NODES: Platform = {
  ...STORAGE,
  nodeSelector: { 'marketplace.io/node-group': 'gpu' },
  tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
};

const node = (name: string) => ['node', `/app/dist/components/${name}/main.js`];

export const clean = component({
  name: 'clean',
  description: 'Raw listings of one partition to the clean catalogue (upserts); bad rows to quarantine.',
  image: 'marketplace-clean',
  command: node('clean'),
  inputs: {
    partition: param.string({ default: '0/1', description: 'k/N: the rows whose id hashes to k of N' }),
    batchSize: param.integer({ default: 1000 }),
  },
  outputs: { cleaned: param.integer({ description: 'rows cleaned or changed in this partition' }) },
  args: ({ inputs, outputs }) => ['--partition', inputs.partition, '--batch-size', inputs.batchSize, '--cleaned-out', outputs.cleaned],
  resources: { cpu: '1', memory: '2Gi' },
  platform: STORAGE,
  retries: 2,
  // Its inputs are the same every night, but what it reads (the raw tables) is not: KFP's cache key
  // (inputs, command, image; no expiry) would replay the first night's result for ever.
  caching: false,
});

export const snapshot = component({
  name: 'snapshot',
  description: 'Pins the catalogue as a snapshot (id, counts, content hash) that train reads, with its EDA report.',
  image: 'marketplace-clean',
  command: [...node('clean'), 'snapshot'],
  inputs: {},
  outputs: { snapshot: artifact.dataset(), newListings: param.integer(), eda: artifact.html() },
  args: ({ outputs }) => ['--snapshot', outputs.snapshot, '--new-listings-out', outputs.newListings, '--report', outputs.eda],
  resources: { cpu: '1', memory: '2Gi' },
  platform: STORAGE,
  // No inputs at all: a cached snapshot would pin the first night's catalogue for every later run.
  caching: false,
});

export const drift = component({
  name: 'drift',
  description: 'New listings against the production model’s training profile: PSI and embedding shift.',
  image: 'marketplace-drift',
  command: node('drift'),
  inputs: { snapshot: artifact.dataset(), threshold: param.double({ default: 0.2 }) },
  outputs: { drifted: param.boolean(), metrics: artifact.metrics(), report: artifact.html() },
  args: ({ inputs, outputs }) => [
    '--snapshot',
    inputs.snapshot,
    '--threshold',
    inputs.threshold,
    '--drifted-out',
    outputs.drifted,
    '--metrics',
    outputs.metrics,
    '--report',
    outputs.report,
    '--executor-output',
    KFP_EXECUTOR_OUTPUT,
  ],
  resources: { cpu: '1', memory: '2Gi' },
  platform: STORAGE,
  // Drift must look at the catalogue as it is now, never at a cached verdict.
  caching: false,
});

export const train = component({
  name: 'train',
  description: 'The multimodal model (image + text towers, fused embedding) trained with TensorFlow.js.',
  image: 'marketplace-train',
  command: node('train'),
  inputs: {
    snapshot: artifact.dataset(),
    epochs: param.integer({ default: 30 }),
    embeddingDim: param.integer({ default: 256 }),
    seed: param.integer({ default: 42 }),
    quick: param.boolean({ default: false, description: 'the small smoke-run configuration' }),
    sample: param.integer({
      default: 0,
      description: 'train on a deterministic sample of this many listings; 0: the configuration’s own (all, or --quick’s)',
    }),
  },
  outputs: { model: artifact.model(), curves: artifact.html() },
  args: ({ inputs, outputs }) => [
    '--snapshot',
    inputs.snapshot,
    '--epochs',
    inputs.epochs,
    '--embedding-dim',
    inputs.embeddingDim,
    '--seed',
    inputs.seed,
    '--quick',
    inputs.quick,
    '--sample',
    inputs.sample,
    '--model',
    outputs.model,
    '--curves',
    outputs.curves,
  ],
  // Requests below a g5.xlarge's allocatable (about 3.7 CPU and 13.6 GiB once the kubelet, eviction
  // and DaemonSets are served: eks/node-capacity.yaml), limits up to the node's size.
  resources: { cpu: '4', cpuRequest: '3', memory: '14Gi', memoryRequest: '12Gi', gpu: { count: 1 } },
  platform: GPU_NODES,
});

export const evaluate = component({
  name: 'evaluate',
  description: 'Held-out metrics of the new model against production; promote only a better one.',
  image: 'marketplace-evaluate',
  command: node('evaluate'),
  inputs: { model: artifact.model(), snapshot: artifact.dataset(), tolerance: param.double({ default: 0.005 }) },
  outputs: { promote: param.boolean(), metrics: artifact.metrics(), confusion: artifact.classificationMetrics(), report: artifact.html() },
  args: ({ inputs, outputs }) => [
    '--model',
    inputs.model,
    '--snapshot',
    inputs.snapshot,
    '--tolerance',
    inputs.tolerance,
    '--promote-out',
    outputs.promote,
    '--metrics',
    outputs.metrics,
    '--confusion',
    outputs.confusion,
    '--report',
    outputs.report,
    '--executor-output',
    KFP_EXECUTOR_OUTPUT,
  ],
  resources: { cpu: '2', memory: '4Gi' },
  platform: STORAGE,
});

export const indexEmbed = component({
  name: 'index-embed',
  description: "Embeds one shard (k of N) of the snapshot's products with the model and writes their vectors to the artifact store.",
  image: 'marketplace-index',
  command: [...node('index'), 'embed'],
  inputs: {
    model: artifact.model(),
    snapshot: artifact.dataset(),
    shard: param.string({ default: '0/1', description: 'k/N: the k-th of N contiguous slices of the snapshot' }),
  },
  outputs: {},
  args: ({ inputs }) => ['--model', inputs.model, '--snapshot', inputs.snapshot, '--shard', inputs.shard],
  // Requests below an m6i.xlarge's allocatable (eks/node-capacity.yaml), one shard a node at most.
  resources: { cpu: '4', cpuRequest: '3', memory: '8Gi', memoryRequest: '6Gi' },
  platform: STORAGE,
  // A shard already in the store is reused, so a retried pod picks up where its vectors are.
  retries: 2,
});

export const index = component({
  name: 'index',
  description: 'Builds the FAISS product and buyer indexes from the embedded shards and the lexical index; publishes their manifest.',
  image: 'marketplace-index',
  command: node('index'),
  inputs: {
    model: artifact.model(),
    snapshot: artifact.dataset(),
    shards: param.list({ default: ['0/1'], description: 'every shard k/N that index-embed wrote' }),
    memoryBudgetMib: param.integer({
      default: 0,
      description:
        "the search service's memory for the product index (MiB), which picks its type; 0: exact up to 100,000 products, HNSW above",
    }),
  },
  outputs: { index: artifact.generic({ description: 'the published manifest.json' }), metrics: artifact.metrics() },
  args: ({ inputs, outputs }) => [
    '--model',
    inputs.model,
    '--snapshot',
    inputs.snapshot,
    '--from-shards',
    inputs.shards,
    '--memory-budget-mib',
    inputs.memoryBudgetMib,
    '--manifest',
    outputs.index,
    '--metrics',
    outputs.metrics,
    '--executor-output',
    KFP_EXECUTOR_OUTPUT,
  ],
  // Requests below an m6i.xlarge's allocatable (eks/node-capacity.yaml); it may burst to the whole node.
  resources: { cpu: '4', cpuRequest: '3', memory: '8Gi', memoryRequest: '6Gi' },
  platform: STORAGE,
});

export const deploy = component({
  name: 'deploy',
  description: 'Rolls the search service to the new model and index; rolls back when the rollout fails.',
  image: 'marketplace-deploy',
  command: node('deploy'),
  inputs: {
    model: artifact.model(),
    index: artifact.generic(),
    target: param.string({ default: 'kubernetes' }),
    namespace: param.string({ default: 'marketplace' }),
    deployment: param.string({ default: 'search' }),
    timeoutSeconds: param.integer({ default: 600 }),
    runId: param.string({ default: PIPELINE_JOB_ID, description: 'the run: its deploy is recorded under it for the exit handler' }),
  },
  outputs: { version: param.string() },
  args: ({ inputs, outputs }) => [
    '--model',
    inputs.model,
    '--index',
    inputs.index,
    '--target',
    inputs.target,
    '--namespace',
    inputs.namespace,
    '--deployment',
    inputs.deployment,
    '--timeout-seconds',
    inputs.timeoutSeconds,
    '--version-out',
    outputs.version,
    '--run-id',
    inputs.runId,
  ],
  resources: { cpu: '500m', memory: '512Mi' },
  platform: STORAGE,
  caching: false,
});

export const productionModel = component({
  name: 'production-model',
  description: 'A pointer to the model in production: what a run that promotes no new model indexes the new snapshot with.',
  image: 'marketplace-deploy',
  command: [...node('deploy'), 'production-model'],
  inputs: {},
  outputs: { model: artifact.model() },
  args: ({ outputs }) => ['--model-out', outputs.model],
  resources: { cpu: '250m', memory: '256Mi' },
  platform: STORAGE,
  // What is in production changes with every deploy; the pointer must be read now.
  caching: false,
});

export const recordRun = component({
  name: 'record-run',
  description: 'Records how the run ended (verified from what its deploy recorded) in the artifact store.',
  image: 'marketplace-deploy',
  command: [...node('deploy'), 'record-run'],
  inputs: { status: param.taskFinalStatus(), runId: param.string({ default: PIPELINE_JOB_ID }) },
  outputs: {},
  args: ({ inputs }) => ['--status', inputs.status, '--run-id', inputs.runId],
  resources: { cpu: '250m', memory: '256Mi' },
  platform: STORAGE,
  caching: false,
});
