/**
 * The few Kubernetes calls deploy makes, through @kubernetes/client-node's AppsV1Api: read a
 * Deployment (and its status), JSON-patch it, list its ReplicaSets (the revisions a rollback returns
 * to). The library's KubeConfig finds the cluster and the credentials (the pod's service account, or
 * a kubeconfig: token, client certificate or an exec plugin such as `aws eks get-token`). Credentials
 * are never logged: a refused call becomes a KubeApiError that carries the HTTP status and the
 * server's own message, never our request.
 */
import {
  AbortError,
  ApiException,
  AppsV1Api,
  KubeConfig,
  Observable,
  PatchStrategy,
  setHeaderOptions,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
  type V1Deployment,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import { errorMessage, InputError } from '../core/platform/index.js';

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

/** A refused API call: the HTTP status and the server's own message (never our request headers). */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
/** 404: no such object (a wrong namespace or Deployment name, usually). */
export class KubeNotFoundError extends KubeApiError {
  override name = 'KubeNotFoundError';
}
/** 409: a conditional write met a newer resourceVersion; read again and retry. */
export class KubeConflictError extends KubeApiError {
  override name = 'KubeConflictError';
}
/** 401: the API server does not accept the credentials. */
export class KubeUnauthorizedError extends KubeApiError {
  override name = 'KubeUnauthorizedError';
}
/** 403: the credentials are accepted, but RBAC does not allow the call. */
export class KubeForbiddenError extends KubeApiError {
  override name = 'KubeForbiddenError';
}

/** What kubectl would use: --kubeconfig, else the pod's service account, else $KUBECONFIG, else ~/.kube/config. */
export function loadKubeConfig(file?: string): KubeConfig {
  const config = new KubeConfig();
  if (file) {
    try {
      config.loadFromFile(file);
    } catch (error) {
      throw new InputError(`cannot load the kubeconfig ${file}: ${errorMessage(error)}`);
    }
  } else if (process.env['KUBERNETES_SERVICE_HOST']) config.loadFromCluster();
  else config.loadFromDefault();
  if (!config.getCurrentCluster()) throw new InputError(`${file ?? 'the kubeconfig'}: its current context names no cluster`);
  return config;
}

/** The server's message from an error body: a Status object (as JSON text or parsed), else the text. */
function serverMessage(body: unknown): string {
  if (typeof body === 'string') {
    try {
      return serverMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 300);
    }
  }
  const message = (body as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : '';
}

/** A failed call as a clear error: the ApiException's status named, anything else as unreachable. */
function kubeError(what: string, error: unknown, server: string, timeoutMs: number): Error {
  if (error instanceof ApiException) {
    const said = serverMessage(error.body);
    const detail = said ? `: ${said}` : '';
    switch (error.code) {
      case 404:
        return new KubeNotFoundError(404, `${what}: not found (404)${detail}`);
      case 409:
        return new KubeConflictError(409, `${what}: conflict (409), the object changed since it was read${detail}`);
      case 401:
        return new KubeUnauthorizedError(
          401,
          `${what}: ${server} refused the credentials (401 Unauthorized): the kubeconfig's token, client certificate or exec plugin gave none it accepts${detail}`,
        );
      case 403:
        return new KubeForbiddenError(403, `${what}: forbidden (403), the credentials lack the RBAC permission${detail}`);
      default:
        return new KubeApiError(error.code, `${what}: Kubernetes API answered ${error.code}${detail}`);
    }
  }
  if (error instanceof AbortError) return new Error(`${what}: no answer from ${server} in ${timeoutMs / 1000} s`);
  return new Error(`${what}: cannot reach the Kubernetes API server at ${server}: ${errorMessage(error)}`);
}

/** Abandons a request the API server has not answered in `timeoutMs` (so the rollout deadline holds). */
function timeoutOptions(timeoutMs: number): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request: RequestContext) => {
          request.setSignal(AbortSignal.timeout(timeoutMs));
          return new Observable(Promise.resolve(request));
        },
        post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}

export function deploymentApi(config: KubeConfig, timeoutMs = 30_000): DeploymentApi {
  const apps = config.makeApiClient(AppsV1Api);
  const server = config.getCurrentCluster()?.server ?? 'the API server';
  const options = timeoutOptions(timeoutMs);
  // The generated patch call would pick its own Content-Type: this one is an RFC 6902 JSON patch.
  const patchOptions = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch, options);
  const call = async <T>(what: string, request: () => Promise<T>): Promise<T> => {
    try {
      return await request();
    } catch (error) {
      throw kubeError(what, error, server, timeoutMs);
    }
  };
  return {
    read: (namespace, name) =>
      call(`read Deployment ${namespace}/${name}`, () => apps.readNamespacedDeployment({ namespace, name }, options)),
    readStatus: (namespace, name) =>
      call(`read the status of Deployment ${namespace}/${name}`, () => apps.readNamespacedDeploymentStatus({ namespace, name }, options)),
    patch: (namespace, name, operations) =>
      call(`patch Deployment ${namespace}/${name}`, () =>
        apps.patchNamespacedDeployment({ namespace, name, body: operations }, patchOptions),
      ),
    listReplicaSets: async (namespace, labelSelector) =>
      (
        await call(`list ReplicaSets in ${namespace} (${labelSelector})`, () =>
          apps.listNamespacedReplicaSet({ namespace, labelSelector }, options),
        )
      ).items,
  };
}
