/**
 * The few Kubernetes calls deploy makes: read a Deployment (and its status), JSON-patch it, list its
 * ReplicaSets (the revisions a rollback returns to). Credentials come from the cluster (the pod's
 * service account) or a kubeconfig (KUBECONFIG, ~/.kube/config; token, client certificate or an exec
 * plugin such as `aws eks get-token`); they are never logged.
 *
 * Why not @kubernetes/client-node's AppsV1Api: its 2.x release loads undici 8, which needs Node
 * >= 22.19 and fails at import on the Node 20 this project runs (`createZstdDecompress` is
 * undefined). Its types are used (type-only imports, nothing loaded at run time); the transport is
 * these four requests over node:https, which is all deploy needs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { V1Deployment, V1ReplicaSet, V1ReplicaSetList } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { InputError } from '../core/index.js';

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  op: 'add' | 'replace' | 'remove' | 'test';
  path: string;
  value?: unknown;
}

export interface DeploymentApi {
  read(namespace: string, name: string): Promise<V1Deployment>;
  readStatus(namespace: string, name: string): Promise<V1Deployment>;
  patch(namespace: string, name: string, operations: readonly JsonPatchOperation[]): Promise<V1Deployment>;
  listReplicaSets(namespace: string, labelSelector: string): Promise<V1ReplicaSet[]>;
}

/** Where the API server is and how to prove who we are. */
export interface KubeConnection {
  server: string;
  ca?: Buffer;
  insecureSkipTlsVerify?: boolean;
  /** A bearer token, or a function that fetches one (exec plugins, a rotating projected token). */
  token?: () => string;
  clientCert?: Buffer;
  clientKey?: Buffer;
}

/** A refused API call: the HTTP status and the server's own message (never our request headers). */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

const Kubeconfig = z.object({
  'current-context': z.string().optional(),
  contexts: z.array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional() }) })).default([]),
  clusters: z
    .array(z.object({
      name: z.string(),
      cluster: z.object({
        server: z.string(),
        'certificate-authority': z.string().optional(),
        'certificate-authority-data': z.string().optional(),
        'insecure-skip-tls-verify': z.boolean().optional(),
      }),
    }))
    .default([]),
  users: z
    .array(z.object({
      name: z.string(),
      user: z.object({
        token: z.string().optional(),
        tokenFile: z.string().optional(),
        'client-certificate': z.string().optional(),
        'client-certificate-data': z.string().optional(),
        'client-key': z.string().optional(),
        'client-key-data': z.string().optional(),
        exec: z.object({ command: z.string(), args: z.array(z.string()).nullish(), env: z.array(z.object({ name: z.string(), value: z.string() })).nullish() }).optional(),
      }).default({}),
    }))
    .default([]),
});

const ExecCredential = z.object({ status: z.object({ token: z.string() }) });

/** A kubeconfig file's current context as a connection (paths relative to the file, as kubectl reads them). */
export function connectionFromKubeconfig(file: string): KubeConnection {
  const parsed = Kubeconfig.safeParse(parseYaml(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new InputError(`${file} is not a kubeconfig: ${parsed.error.issues[0]?.message}`);
  const config = parsed.data;
  const context = config.contexts.find((entry) => entry.name === config['current-context']) ?? config.contexts[0];
  const cluster = config.clusters.find((entry) => entry.name === context?.context.cluster)?.cluster;
  if (!cluster) throw new InputError(`${file}: its current context names no cluster`);
  const user = config.users.find((entry) => entry.name === context?.context.user)?.user ?? {};
  const relative = (p: string) => path.resolve(path.dirname(file), p);
  const bytes = (data: string | undefined, fileName: string | undefined) =>
    data ? Buffer.from(data, 'base64') : fileName ? readFileSync(relative(fileName)) : undefined;
  let token: (() => string) | undefined;
  if (user.token) {
    const value = user.token;
    token = () => value;
  } else if (user.tokenFile) {
    const tokenFile = relative(user.tokenFile);
    token = () => readFileSync(tokenFile, 'utf8').trim();
  } else if (user.exec) {
    const exec = user.exec;
    // The plugin (e.g. `aws eks get-token`) prints an ExecCredential; its token lives ~15 minutes.
    token = () => {
      const output = execFileSync(exec.command, exec.args ?? [], {
        env: { ...process.env, ...Object.fromEntries((exec.env ?? []).map((variable) => [variable.name, variable.value])) },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      return ExecCredential.parse(JSON.parse(output)).status.token;
    };
  }
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ca: bytes(cluster['certificate-authority-data'], cluster['certificate-authority']),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'],
    token,
    clientCert: bytes(user['client-certificate-data'], user['client-certificate']),
    clientKey: bytes(user['client-key-data'], user['client-key']),
  };
}

/** Inside a pod: the API server from the environment Kubernetes sets, the projected service account token. */
export function inClusterConnection(env: NodeJS.ProcessEnv = process.env): KubeConnection | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  if (!host) return undefined;
  const port = env['KUBERNETES_SERVICE_PORT'] ?? '443';
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    ca: readFileSync(path.join(SERVICE_ACCOUNT, 'ca.crt')),
    // Re-read each time: the kubelet rotates the projected token.
    token: () => readFileSync(path.join(SERVICE_ACCOUNT, 'token'), 'utf8').trim(),
  };
}

/** What kubectl would use: --kubeconfig, else the pod's service account, else $KUBECONFIG, else ~/.kube/config. */
export function loadConnection(kubeconfig?: string, env: NodeJS.ProcessEnv = process.env): KubeConnection {
  if (kubeconfig) return connectionFromKubeconfig(kubeconfig);
  const inCluster = inClusterConnection(env);
  if (inCluster) return inCluster;
  const file = env['KUBECONFIG']?.split(path.delimiter).find(Boolean) ?? path.join(os.homedir(), '.kube', 'config');
  return connectionFromKubeconfig(file);
}

/** One JSON request to the API server. */
async function request<T>(connection: KubeConnection, method: string, apiPath: string, body?: { contentType: string; json: unknown }): Promise<T> {
  const url = new URL(apiPath, `${connection.server}/`);
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = connection.token?.();
  if (token) headers['authorization'] = `Bearer ${token}`;
  const payload = body ? JSON.stringify(body.json) : undefined;
  if (body && payload !== undefined) {
    headers['content-type'] = body.contentType;
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const transport = url.protocol === 'https:' ? https : http;
  const options: https.RequestOptions = {
    method,
    headers,
    timeout: 30_000,
    ...(url.protocol === 'https:'
      ? { ca: connection.ca, cert: connection.clientCert, key: connection.clientKey, rejectUnauthorized: !connection.insecureSkipTlsVerify }
      : {}),
  };
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const outgoing = transport.request(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${method} ${url.pathname}: no answer in 30 s`)));
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
  if (status < 200 || status >= 300) {
    let message = text.slice(0, 300);
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') message = parsed.message;
    } catch {
      // not a Status object: keep the text
    }
    throw new KubeApiError(status, `${method} ${url.pathname}: Kubernetes API answered ${status}: ${message}`);
  }
  return JSON.parse(text) as T;
}

export function deploymentApi(connection: KubeConnection): DeploymentApi {
  const deploymentPath = (namespace: string, name: string) =>
    `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(name)}`;
  return {
    read: (namespace, name) => request<V1Deployment>(connection, 'GET', deploymentPath(namespace, name)),
    readStatus: (namespace, name) => request<V1Deployment>(connection, 'GET', `${deploymentPath(namespace, name)}/status`),
    patch: (namespace, name, operations) =>
      request<V1Deployment>(connection, 'PATCH', deploymentPath(namespace, name), { contentType: 'application/json-patch+json', json: operations }),
    listReplicaSets: async (namespace, labelSelector) =>
      (await request<V1ReplicaSetList>(connection, 'GET', `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/replicasets?labelSelector=${encodeURIComponent(labelSelector)}`)).items,
  };
}

/** The HTTP status of a failed API call, if it was one. */
export function apiStatus(error: unknown): number | undefined {
  return error instanceof KubeApiError ? error.code : undefined;
}
