/**
 * A small client of the Kubeflow Pipelines REST API (v2beta1): upload a compiled spec (or a new version
 * of it), start a run, create a recurring run. The server is `KFP_HOST`; a bearer token, where the
 * installation needs one, comes from `KFP_TOKEN` (environment or a Kubernetes Secret), never from code.
 */
import { errorMessage, InputError } from '../../components/core/platform/index.js';

export interface KfpClientOptions {
  host: string;
  token?: string;
}

export interface PipelineVersionRef {
  pipeline_id: string;
  pipeline_version_id: string;
}

export class KfpError extends Error {
  override name = 'KfpError';
  constructor(
    message: string,
    /** The HTTP status the server answered, when it answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export class KfpClient {
  private readonly base: string;

  constructor(private readonly options: KfpClientOptions) {
    if (!/^https?:\/\//.test(options.host)) throw new InputError(`KFP_HOST must be an http(s) URL, got '${options.host}'`);
    this.base = `${options.host.replace(/\/+$/, '')}/apis/v2beta1`;
  }

  private async request<T>(method: string, path: string, body?: RequestInit['body'], contentType?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (contentType) headers['content-type'] = contentType;
    if (this.options.token) headers['authorization'] = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, { method, headers, body });
    } catch (error) {
      throw new KfpError(`cannot reach Kubeflow Pipelines at ${this.options.host}: ${errorMessage(error)}`);
    }
    const text = await response.text();
    if (!response.ok) {
      const detail = (() => {
        try {
          return (JSON.parse(text) as { message?: string; error?: string }).message ?? text;
        } catch {
          return text;
        }
      })();
      throw new KfpError(`${method} ${path} answered ${response.status}: ${detail.slice(0, 500)}`, response.status);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  private async findPipeline(name: string): Promise<string | undefined> {
    const filter = encodeURIComponent(JSON.stringify({ predicates: [{ key: 'name', operation: 'EQUALS', string_value: name }] }));
    const found = await this.request<{ pipelines?: { pipeline_id: string; name?: string; display_name?: string }[] }>(
      'GET',
      `/pipelines?filter=${filter}&page_size=1`,
    );
    return found.pipelines?.[0]?.pipeline_id;
  }

  /** The id of the version called `version` of pipeline `pipelineId`, if there is one. */
  private async findVersion(pipelineId: string, version: string): Promise<string | undefined> {
    const filter = encodeURIComponent(JSON.stringify({ predicates: [{ key: 'name', operation: 'EQUALS', string_value: version }] }));
    const found = await this.request<{ pipeline_versions?: { pipeline_version_id: string }[] }>(
      'GET',
      `/pipelines/${encodeURIComponent(pipelineId)}/versions?filter=${filter}&page_size=1`,
    );
    return found.pipeline_versions?.[0]?.pipeline_version_id;
  }

  /**
   * Uploads the spec as a new pipeline, or as a new version of the pipeline of that name; a version of
   * that name already there is reused (KFP answers 409 to a duplicate version name, and the caller
   * names versions by the spec's digest: the same spec is the same version). Safe to call any number
   * of times, and against another uploader racing it.
   */
  async upload(spec: string, name: string, version: string): Promise<PipelineVersionRef> {
    const form = () => {
      const data = new FormData();
      data.append('uploadfile', new Blob([spec], { type: 'application/x-yaml' }), `${name}.yaml`);
      return data;
    };
    const conflict = (error: unknown) => error instanceof KfpError && error.status === 409;
    let pipelineId = await this.findPipeline(name);
    if (!pipelineId) {
      try {
        const created = await this.request<{ pipeline_id: string }>(
          'POST',
          `/pipelines/upload?name=${encodeURIComponent(name)}&display_name=${encodeURIComponent(name)}`,
          form(),
        );
        pipelineId = created.pipeline_id;
      } catch (error) {
        pipelineId = conflict(error) ? await this.findPipeline(name) : undefined;
        if (!pipelineId) throw error;
      }
    }
    const existing = await this.findVersion(pipelineId, version);
    if (existing) return { pipeline_id: pipelineId, pipeline_version_id: existing };
    try {
      const created = await this.request<{ pipeline_version_id: string }>(
        'POST',
        `/pipelines/upload_version?pipelineid=${encodeURIComponent(pipelineId)}&name=${encodeURIComponent(version)}`,
        form(),
      );
      return { pipeline_id: pipelineId, pipeline_version_id: created.pipeline_version_id };
    } catch (error) {
      const raced = conflict(error) ? await this.findVersion(pipelineId, version) : undefined;
      if (!raced) throw error;
      return { pipeline_id: pipelineId, pipeline_version_id: raced };
    }
  }

  async createRun(
    ref: PipelineVersionRef,
    displayName: string,
    parameters: Record<string, unknown>,
    experimentId?: string,
  ): Promise<{ run_id: string }> {
    const body = {
      display_name: displayName,
      experiment_id: experimentId,
      pipeline_version_reference: ref,
      runtime_config: { parameters },
    };
    return this.request('POST', '/runs', JSON.stringify(body), 'application/json');
  }

  /** Creates a recurring run from a request body like manifests/kubeflow/recurring-run.json. */
  async createRecurringRun(
    ref: PipelineVersionRef,
    definition: Record<string, unknown>,
    experimentId?: string,
  ): Promise<{ recurring_run_id: string }> {
    const body = { ...definition, experiment_id: experimentId ?? definition['experiment_id'], pipeline_version_reference: ref };
    return this.request('POST', '/recurringruns', JSON.stringify(body), 'application/json');
  }
}
