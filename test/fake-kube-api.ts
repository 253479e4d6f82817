/**
 * A FAKE Kubernetes API server for the deploy tests (no kube-apiserver can run here): a node:http
 * server that holds Deployments and their ReplicaSets in memory and answers the calls deploy makes:
 *   GET   /apis/apps/v1/namespaces/:ns/deployments/:name[/status]
 *   PATCH /apis/apps/v1/namespaces/:ns/deployments/:name      (application/json-patch+json)
 *   GET   /apis/apps/v1/namespaces/:ns/replicasets?labelSelector=…
 * It answers 401 to any bearer token but its own, 403 to the methods in `forbid`, and nothing at all
 * while `stall` is set. It imitates what deploy relies on: a patch that sets a stale
 * metadata.resourceVersion gets 409 Conflict; a changed pod template bumps metadata.generation and makes a ReplicaSet of a new revision
 * (or brings back the one with the same template, as a rollback does); and a tiny "controller" moves
 * the status on each read: the rollout completes when the template's pods become ready, and stays
 * stuck (one surge pod never ready) when they do not.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface FakeRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  authorization: string | undefined;
  status: number;
}

export interface DeploymentSeed {
  namespace?: string;
  name?: string;
  replicas?: number;
  container?: string;
  env?: { name: string; value: string }[];
}

interface Stored {
  deployment: JsonObject;
  /** Status reads since the pod template last changed: the fake rollout takes `readsToComplete`. */
  readsSinceChange: number;
}

const clone = <T extends Json>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
/** JSON with object keys sorted: the client library re-orders keys (its models' order), the API server compares values. */
const canonical = (value: Json | undefined): string =>
  JSON.stringify(value, (_key, member: unknown) =>
    member && typeof member === 'object' && !Array.isArray(member)
      ? Object.fromEntries(Object.entries(member).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : member,
  );
const same = (a: Json | undefined, b: Json | undefined) => canonical(a) === canonical(b);
const obj = (value: Json | undefined): JsonObject => (value && typeof value === 'object' && !Array.isArray(value) ? value : {});

class HttpProblem extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** RFC 6902 on plain JSON: add, replace, remove, test. */
export function applyJsonPatch(document: JsonObject, operations: unknown): JsonObject {
  if (!Array.isArray(operations)) throw new HttpProblem(400, 'BadRequest', 'a JSON patch is an array of operations');
  const root: JsonObject = clone(document);
  for (const raw of operations as { op?: string; path?: string; value?: Json }[]) {
    const segments = String(raw.path ?? '')
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = segments.pop();
    if (last === undefined) throw new HttpProblem(422, 'Invalid', `bad path ${raw.path}`);
    let parent: Json = root;
    for (const segment of segments) {
      const next: Json | undefined = Array.isArray(parent) ? parent[Number(segment)] : obj(parent)[segment];
      if (next === undefined || next === null || typeof next !== 'object')
        throw new HttpProblem(422, 'Invalid', `path ${raw.path} does not exist`);
      parent = next;
    }
    const container = parent as JsonObject | Json[];
    const current = Array.isArray(container) ? container[Number(last)] : container[last];
    switch (raw.op) {
      case 'test':
        if (!same(current, raw.value)) throw new HttpProblem(422, 'Invalid', `test failed at ${raw.path}`);
        break;
      case 'remove':
        if (current === undefined) throw new HttpProblem(422, 'Invalid', `nothing to remove at ${raw.path}`);
        if (Array.isArray(container)) container.splice(Number(last), 1);
        else delete container[last];
        break;
      case 'replace':
      case 'add':
        // replace is add on a member that must exist
        if (raw.op === 'replace' && current === undefined) throw new HttpProblem(422, 'Invalid', `nothing to replace at ${raw.path}`);
        if (Array.isArray(container)) {
          if (last === '-') container.push(clone(raw.value ?? null));
          else if (raw.op === 'add') container.splice(Number(last), 0, clone(raw.value ?? null));
          else container[Number(last)] = clone(raw.value ?? null);
        } else container[last] = clone(raw.value ?? null);
        break;
      default:
        throw new HttpProblem(422, 'Invalid', `unsupported op ${raw.op}`);
    }
  }
  return root;
}

export class FakeKubeApi {
  readonly requests: FakeRequest[] = [];
  readonly token = `fake-token-${randomUUID()}`;
  /** Whether the pods of a pod template ever become ready. */
  podsBecomeReady: (template: JsonObject) => boolean = () => true;
  /** Status reads a rollout takes to complete once its pods are ready. */
  readsToComplete = 2;
  /** The next N patches find that another writer changed the Deployment just before (so a conditional patch gets 409). */
  concurrentWrites = 0;
  /** HTTP methods the caller's RBAC role does not allow (answered 403 Forbidden). */
  readonly forbid = new Set<string>();
  /** Never answer (a hung API server). */
  stall = false;
  private readonly deployments = new Map<string, Stored>();
  private readonly replicaSets: JsonObject[] = [];
  private resourceVersion = 100;
  private server: http.Server | undefined;
  url = '';

  static async start(): Promise<FakeKubeApi> {
    const fake = new FakeKubeApi();
    fake.server = http.createServer((request, response) => void fake.handle(request, response));
    await new Promise<void>((resolve) => fake.server?.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /**
   * A kubeconfig that points a client at this server, with a bearer token the tests look for in logs.
   * The server is plain http: @kubernetes/client-node refuses http unless the cluster skips TLS verification.
   */
  kubeconfig(): string {
    return [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: fake\n  cluster:\n    server: ${this.url}\n    insecure-skip-tls-verify: true`,
      'users:',
      `- name: fake\n  user:\n    token: ${this.token}`,
      'contexts:',
      '- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: marketplace',
      'current-context: fake',
      '',
    ].join('\n');
  }

  /** Creates a Deployment whose first revision is already rolled out. */
  addDeployment(seed: DeploymentSeed = {}): JsonObject {
    const namespace = seed.namespace ?? 'marketplace';
    const name = seed.name ?? 'search';
    const replicas = seed.replicas ?? 2;
    const labels = { 'app.kubernetes.io/name': name };
    const deployment: JsonObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name,
        namespace,
        uid: randomUUID(),
        generation: 1,
        resourceVersion: String(this.resourceVersion++),
        annotations: {},
        labels,
      },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels, annotations: {} },
          spec: {
            containers: [{ name: seed.container ?? 'search', image: 'registry.example/marketplace-serve:1.0.0', env: seed.env ?? [] }],
          },
        },
      },
      status: {},
    };
    this.deployments.set(`${namespace}/${name}`, { deployment, readsSinceChange: this.readsToComplete });
    this.newRevision(deployment);
    this.reconcile(this.stored(namespace, name));
    return clone(deployment);
  }

  /** The Deployment as stored now (a copy). */
  deployment(namespace = 'marketplace', name = 'search'): JsonObject {
    return clone(this.stored(namespace, name).deployment);
  }

  /** The first container's env of the stored Deployment, as a name → value map. */
  env(namespace = 'marketplace', name = 'search'): Record<string, string> {
    const template = obj(obj(this.stored(namespace, name).deployment['spec'])['template']);
    const containers = obj(template['spec'])['containers'] as JsonObject[];
    const env = (containers[0]?.['env'] ?? []) as { name: string; value: string }[];
    return Object.fromEntries(env.map((variable) => [variable.name, variable.value]));
  }

  /** Changes the stored pod template directly, as an earlier deploy run (or a person) would have. */
  setTemplate(template: JsonObject, namespace = 'marketplace', name = 'search'): void {
    const stored = this.stored(namespace, name);
    const spec = obj(stored.deployment['spec']);
    spec['template'] = clone(template);
    this.templateChanged(stored);
  }

  private stored(namespace: string, name: string): Stored {
    const stored = this.deployments.get(`${namespace}/${name}`);
    if (!stored) throw new HttpProblem(404, 'NotFound', `deployments.apps "${name}" not found`);
    return stored;
  }

  private templateOf(deployment: JsonObject): JsonObject {
    return obj(obj(deployment['spec'])['template']);
  }

  /** What the deployment controller does on a template change: a ReplicaSet for it, the next revision. */
  private newRevision(deployment: JsonObject): void {
    const metadata = obj(deployment['metadata']);
    const template = this.templateOf(deployment);
    const revision =
      Math.max(0, ...this.replicaSets.map((rs) => Number(obj(obj(rs['metadata'])['annotations'])['deployment.kubernetes.io/revision']))) +
      1;
    const existing = this.replicaSets.find((rs) => same(this.stripHash(obj(obj(rs['spec'])['template'])), template));
    const annotations = { 'deployment.kubernetes.io/revision': String(revision) };
    if (existing) obj(existing['metadata'])['annotations'] = annotations;
    else {
      const hash = randomUUID().slice(0, 8);
      const rsTemplate = clone(template);
      obj(rsTemplate['metadata'])['labels'] = { ...obj(obj(rsTemplate['metadata'])['labels']), 'pod-template-hash': hash };
      this.replicaSets.push({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${String(metadata['name'])}-${hash}`,
          namespace: metadata['namespace'] ?? null,
          annotations,
          labels: obj(obj(rsTemplate['metadata'])['labels']),
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'Deployment', name: metadata['name'] ?? null, uid: metadata['uid'] ?? null, controller: true },
          ],
        },
        spec: { replicas: 0, selector: obj(obj(deployment['spec'])['selector']), template: rsTemplate },
      });
    }
    obj(metadata['annotations'])['deployment.kubernetes.io/revision'] = String(revision);
  }

  private stripHash(template: JsonObject): JsonObject {
    const copy = clone(template);
    delete obj(obj(copy['metadata'])['labels'])['pod-template-hash'];
    return copy;
  }

  private templateChanged(stored: Stored): void {
    const metadata = obj(stored.deployment['metadata']);
    metadata['generation'] = Number(metadata['generation']) + 1;
    metadata['resourceVersion'] = String(this.resourceVersion++);
    stored.readsSinceChange = 0;
    this.newRevision(stored.deployment);
  }

  /** The fake controller: one step of the rollout per status read. */
  private reconcile(stored: Stored): void {
    const { deployment } = stored;
    const desired = Number(obj(deployment['spec'])['replicas'] ?? 1);
    const ready = this.podsBecomeReady(this.templateOf(deployment));
    const done = ready && stored.readsSinceChange >= this.readsToComplete;
    stored.readsSinceChange++;
    deployment['status'] = done
      ? {
          observedGeneration: obj(deployment['metadata'])['generation'] ?? 0,
          replicas: desired,
          updatedReplicas: desired,
          readyReplicas: desired,
          availableReplicas: desired,
        }
      : // maxSurge 1: one new pod, not (yet) ready, beside the old ones, which keep serving.
        {
          observedGeneration: obj(deployment['metadata'])['generation'] ?? 0,
          replicas: desired + 1,
          updatedReplicas: 1,
          readyReplicas: desired,
          availableReplicas: desired,
          unavailableReplicas: 1,
        };
  }

  private patch(stored: Stored, contentType: string | undefined, body: unknown): JsonObject {
    if (contentType !== 'application/json-patch+json')
      throw new HttpProblem(415, 'UnsupportedMediaType', `the fake accepts JSON patches only, not ${contentType}`);
    if (this.concurrentWrites > 0) {
      this.concurrentWrites--;
      const metadata = obj(stored.deployment['metadata']);
      obj(metadata['annotations'])['example.com/other-writer'] = String(this.resourceVersion);
      metadata['resourceVersion'] = String(this.resourceVersion++);
    }
    const before = stored.deployment;
    const after = applyJsonPatch(before, body);
    const stale = obj(after['metadata'])['resourceVersion'];
    if (stale !== obj(before['metadata'])['resourceVersion']) {
      throw new HttpProblem(
        409,
        'Conflict',
        `Operation cannot be fulfilled on deployments.apps "${String(obj(before['metadata'])['name'])}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    stored.deployment = after;
    if (!same(this.templateOf(before), this.templateOf(after))) this.templateChanged(stored);
    else obj(after['metadata'])['resourceVersion'] = String(this.resourceVersion++);
    return clone(after);
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', this.url);
    const contentType = request.headers['content-type']?.split(';')[0];
    if (this.stall) return;
    let status = 200;
    let answer: Json;
    try {
      if (request.headers.authorization !== `Bearer ${this.token}`) throw new HttpProblem(401, 'Unauthorized', 'Unauthorized');
      if (this.forbid.has(request.method ?? '')) {
        throw new HttpProblem(
          403,
          'Forbidden',
          `deployments.apps is forbidden: User "system:serviceaccount:marketplace:deploy" cannot ${request.method?.toLowerCase()} resource "deployments" in API group "apps" in the namespace "marketplace"`,
        );
      }
      const deploymentPath = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/]+)(\/status)?$/.exec(url.pathname);
      const replicaSetsPath = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/replicasets$/.exec(url.pathname);
      if (deploymentPath && request.method === 'GET') {
        const stored = this.stored(deploymentPath[1] ?? '', deploymentPath[2] ?? '');
        this.reconcile(stored);
        answer = clone(stored.deployment);
      } else if (deploymentPath && request.method === 'PATCH' && !deploymentPath[3]) {
        const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
        answer = this.patch(this.stored(deploymentPath[1] ?? '', deploymentPath[2] ?? ''), contentType, body);
      } else if (replicaSetsPath && request.method === 'GET') {
        const wanted = (url.searchParams.get('labelSelector') ?? '')
          .split(',')
          .filter(Boolean)
          .map((pair) => pair.split('='));
        const items = this.replicaSets.filter(
          (rs) =>
            obj(rs['metadata'])['namespace'] === replicaSetsPath[1] &&
            wanted.every(([key, value]) => obj(obj(rs['metadata'])['labels'])[key ?? ''] === value),
        );
        answer = { apiVersion: 'apps/v1', kind: 'ReplicaSetList', metadata: {}, items: clone(items) };
      } else {
        throw new HttpProblem(404, 'NotFound', `the fake Kubernetes API server does not serve ${request.method} ${url.pathname}`);
      }
    } catch (error) {
      const problem = error instanceof HttpProblem ? error : new HttpProblem(500, 'InternalError', String(error));
      status = problem.code;
      answer = {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: problem.message,
        reason: problem.reason,
        code: problem.code,
      };
    }
    this.requests.push({
      method: request.method ?? '',
      path: url.pathname,
      contentType,
      authorization: request.headers.authorization,
      status,
    });
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(answer));
  }
}
