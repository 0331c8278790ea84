/**
 * The MLflow flavor: trackstack's primitives on MLflow's REST API. Core owns
 * validation, batching, retries and the journal; this class only speaks MLflow.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import {
  type ArtifactUpload,
  BaseExperimentTracker,
  type DatasetInput,
  defineFlavor,
  type FinalRunStatus,
  type FlavorCapabilities,
  type Media,
  type ResumeOptions,
  type RunInit,
  type RunRef,
  type StepRunInfo,
  type StepRunLayout,
  type WriteBatch,
} from '@trackstack/core';
import { v5 as uuidv5 } from 'uuid';
import { logBatchBody } from './mlflow-batch.js';
import { MlflowRestClient, type MlflowRun } from './mlflow-client.js';
import {
  MAX_REQUESTS_IN_FLIGHT,
  type MlflowConfig,
  mlflowConfigSchema,
  type ResolvedMlflowConfig,
  resolveMlflowConfig,
} from './mlflow-config.js';
import { MlflowError } from './mlflow-error.js';
import { logInputsBody } from './mlflow-inputs.js';
import {
  histogramPlan,
  imagePlan,
  LOGGED_ARTIFACTS_TAG,
  LOGGED_IMAGES_TAG,
  tablePlan,
  withLoggedTable,
} from './mlflow-media.js';
import { uploadMultipart } from './mlflow-multipart.js';
import { sourceTags } from './mlflow-source.js';

/** Namespace of the run ids derived from ZenML's pipeline-run and step-run ids. */
const MLFLOW_STEP_NAMESPACE = 'b2f0c6a4-3d7e-4f4a-9a51-0e8f3c2d7a61';

export class MlflowExperimentTracker extends BaseExperimentTracker<MlflowConfig> {
  static readonly FLAVOR = defineFlavor({
    name: 'mlflow',
    displayName: 'MLflow',
    configSchema: mlflowConfigSchema,
    docsUrl: 'https://github.com/trackstack/trackstack/tree/main/packages/tracker-mlflow#readme',
    sdkDocsUrl: 'https://mlflow.org/docs/latest/api_reference/rest-api.html',
    logoUrl: 'https://mlflow.org/img/mlflow-black.svg',
  });

  private resolved: ResolvedMlflowConfig | undefined;
  private restClient: MlflowRestClient | undefined;
  private readonly experimentIds = new Map<string, string>();
  /** False once the server said its artifact store cannot do multipart: one PUT per file since. */
  private multipartOffered: boolean | undefined;
  /** The upload that is asking the server whether it does multipart; others wait for its answer. */
  private multipartAsking: Promise<unknown> | undefined;
  /** Per run: its `mlflow.loggedImages` tag, set (or being set) by this process. */
  private readonly imageRuns = new Map<string, Promise<void>>();
  /** Per run: the last `mlflow.loggedArtifacts` value written (or being written). */
  private readonly tableTags = new Map<string, Promise<string | undefined>>();

  /** The config with MLflow's environment variables applied; read on first use, not at import. */
  get settings(): ResolvedMlflowConfig {
    this.resolved ??= resolveMlflowConfig(this.config);
    return this.resolved;
  }

  /**
   * The HTTP client: its requests are the flavor's business, not its users'.
   * @internal
   */
  get client(): MlflowRestClient {
    this.restClient ??= new MlflowRestClient(this.settings);
    return this.restClient;
  }

  // `limits` are core's defaults: MLflow's per-request limits.

  override get capabilities(): FlavorCapabilities {
    return {
      orderedWrites: false,
      maxConcurrency: this.config.max_requests_in_flight ?? MAX_REQUESTS_IN_FLIGHT,
      nestedRuns: true,
      artifacts: true,
      resume: true,
      // Fewer keys a request is less work for MLflow's server (mlflow-batch.ts).
      metricOrder: 'by-key',
      inputs: true,
      media: ['image', 'table', 'histogram'],
    };
  }

  /** A run that names no experiment goes to `experiment_name` (else MLflow's "Default"). */
  override get defaultExperiment(): string | undefined {
    return this.config.experiment_name;
  }

  async createRun(init: RunInit): Promise<RunRef> {
    const experimentId = await this.experimentId(init.experiment);
    // A retried create must find the run the lost answer created, not make another.
    const existing = await this.findRunByUid(experimentId, init.uid);
    if (existing !== undefined) return this.ref(existing);
    const tags: Record<string, string> = {
      ...sourceTags(init.source),
      ...this.config.tags,
      ...init.tags,
      ...(init.parent === undefined ? {} : { 'mlflow.parentRunId': init.parent.runId }),
    };
    const { run } = await this.client.post<{ run: MlflowRun }>('runs/create', {
      experiment_id: experimentId,
      run_name: init.name,
      start_time: init.startTime,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
    return this.ref(run);
  }

  override async resumeRun(ref: RunRef, options: ResumeOptions): Promise<RunRef> {
    const { run } = await this.client.get<{ run: MlflowRun }>('runs/get', { run_id: ref.runId });
    if (options.reopen && run.info.status !== 'RUNNING') {
      await this.client.post('runs/update', { run_id: ref.runId, status: 'RUNNING' });
    }
    return this.ref(run);
  }

  /** One log-batch request (mlflow-batch.ts); MLflow keeps an exact duplicate point once. */
  async writeBatch(ref: RunRef, batch: WriteBatch): Promise<void> {
    await this.client.post('runs/log-batch', logBatchBody(ref.runId, batch));
  }

  /** `runs/log-inputs`; MLflow keeps a dataset input of a run once, so a retry is harmless. */
  async logInput(ref: RunRef, input: DatasetInput): Promise<void> {
    await this.client.post('runs/log-inputs', logInputsBody(ref.runId, input));
  }

  /** Images, tables and histograms as MLflow's client lays them out (mlflow-media.ts). */
  async logMedia(ref: RunRef, media: Media): Promise<void> {
    const plan =
      media.kind === 'image'
        ? await imagePlan(ref.runId, media)
        : media.kind === 'table'
          ? await tablePlan(ref.runId, media)
          : histogramPlan(media);
    const root = await this.artifactRoot(ref);
    for (const file of plan.files) {
      const path = `${root}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
      await this.client.putArtifact(
        path,
        Readable.from([file.bytes]),
        file.bytes.length,
        file.contentType,
      );
    }
    if (plan.loggedImages === true) await this.markLoggedImages(ref.runId);
    if (plan.table !== undefined) await this.addLoggedTable(ref.runId, plan.table);
  }

  /**
   * Sets `mlflow.loggedImages` once per run: images uploaded at once share one request (two
   * set-tag requests of one key at once can collide in MLflow's SQL store: a UNIQUE
   * constraint error); a failed one is tried again by the next image.
   */
  private markLoggedImages(runId: string): Promise<void> {
    let marked = this.imageRuns.get(runId);
    if (marked === undefined) {
      marked = this.client
        .post('runs/set-tag', { run_id: runId, key: LOGGED_IMAGES_TAG, value: 'True' })
        .then(() => undefined);
      this.imageRuns.set(runId, marked);
      marked.catch(() => this.imageRuns.delete(runId));
    }
    return marked;
  }

  /** Adds a table to `mlflow.loggedArtifacts`, one update of a run's tag at a time. */
  private addLoggedTable(runId: string, path: string): Promise<void> {
    const previous = this.tableTags.get(runId) ?? Promise.resolve(undefined);
    const next = previous
      .catch(() => undefined)
      .then(async (known) => {
        let current = known;
        if (current === undefined) {
          const { run } = await this.client.get<{ run: MlflowRun }>('runs/get', { run_id: runId });
          current = run.data?.tags?.find((tag) => tag.key === LOGGED_ARTIFACTS_TAG)?.value;
        }
        const value = withLoggedTable(current, path);
        if (value !== current) {
          await this.client.post('runs/set-tag', {
            run_id: runId,
            key: LOGGED_ARTIFACTS_TAG,
            value,
          });
        }
        return value;
      });
    this.tableTags.set(runId, next);
    return next.then(() => undefined);
  }

  async uploadArtifact(ref: RunRef, artifact: ArtifactUpload): Promise<void> {
    const root = await this.artifactRoot(ref);
    const segments = artifact.path.split('/').map(encodeURIComponent);
    const { settings } = this;
    const large = settings.multipart_upload && artifact.size >= settings.multipart_upload_min_size;
    // Uploads run side by side: until the server said whether it does multipart, one asks and
    // the others wait for its answer (it is asked once per client).
    while (large && this.multipartOffered === undefined && this.multipartAsking !== undefined) {
      await this.multipartAsking.catch(() => undefined);
    }
    if (large && this.multipartOffered !== false) {
      const ask = uploadMultipart(
        this.client,
        {
          dir: [root, ...segments.slice(0, -1)].join('/'),
          fileName: artifact.path.split('/').at(-1)!,
          localPath: artifact.localPath,
          size: artifact.size,
          label: artifact.path,
        },
        {
          chunkSize: settings.multipart_upload_chunk_size,
          concurrency: settings.multipart_upload_concurrency,
          retry: this.retry,
          onRetry: (message) => this.logger.debug(`mlflow: ${message}`),
        },
      );
      if (this.multipartOffered === undefined) this.multipartAsking = ask;
      let done: boolean;
      try {
        done = await ask;
      } finally {
        if (this.multipartAsking === ask) this.multipartAsking = undefined;
      }
      if (done) {
        this.multipartOffered = true;
        return;
      }
      this.multipartOffered = false;
      this.logger.debug(
        "mlflow: the server's artifact store does not do multipart uploads; one PUT per file",
      );
    }
    const path = `${root}/${segments.join('/')}`;
    await this.client.putArtifact(
      path,
      createReadStream(artifact.localPath),
      artifact.size,
      artifact.contentType,
    );
  }

  async finishRun(ref: RunRef, status: FinalRunStatus, endTime: number): Promise<void> {
    await this.client.post('runs/update', { run_id: ref.runId, status, end_time: endTime });
  }

  async validateConnection(): Promise<void> {
    await this.client.post('experiments/search', { max_results: 1 });
  }

  override runMetadata(ref: RunRef): Record<string, string> {
    return {
      mlflow_run_id: ref.runId,
      ...(ref.experimentId === undefined ? {} : { mlflow_experiment_id: ref.experimentId }),
    };
  }

  /**
   * ZenML's layout: the experiment is the `experiment_name` setting, else the
   * pipeline's name; all steps of a pipeline run share one run (found again by
   * an id derived from the pipeline run id); with `nested`, each step gets a
   * child run of its own under it.
   */
  override stepRunLayout(info: StepRunInfo): StepRunLayout {
    const settings = info.settings ?? {};
    const experiment =
      (typeof settings.experiment_name === 'string' ? settings.experiment_name : undefined) ??
      this.config.experiment_name ??
      info.pipelineName;
    const shared = {
      experiment,
      name: info.pipelineRunName,
      id: uuidv5(info.pipelineRunId, MLFLOW_STEP_NAMESPACE),
      tags: { 'zenml.pipeline': info.pipelineName, 'zenml.pipeline_run': info.pipelineRunName },
    };
    const nested = typeof settings.nested === 'boolean' ? settings.nested : this.config.nested;
    if (!nested) return { run: shared };
    return {
      parent: shared,
      run: {
        experiment,
        name: info.stepName,
        id: uuidv5(info.stepRunId, MLFLOW_STEP_NAMESPACE),
        tags: { 'zenml.pipeline_run': info.pipelineRunName, 'zenml.step': info.stepName },
      },
    };
  }

  private ref(run: MlflowRun): RunRef {
    const { run_id: runId, experiment_id: experimentId, artifact_uri: artifactUri } = run.info;
    return {
      runId,
      experimentId,
      url: `${this.settings.baseUrl}/#/experiments/${experimentId}/runs/${runId}`,
      data: artifactUri === undefined ? {} : { artifactUri },
    };
  }

  private async experimentId(name: string): Promise<string> {
    const cached = this.experimentIds.get(name);
    if (cached !== undefined) return cached;
    let id = await this.findExperiment(name);
    if (id === undefined) {
      try {
        ({ experiment_id: id } = await this.client.post<{ experiment_id: string }>(
          'experiments/create',
          { name },
        ));
      } catch (error) {
        // Another process created it first (MLflow answers 400 RESOURCE_ALREADY_EXISTS).
        if (!(MlflowError.isInstance(error) && error.errorCode === 'RESOURCE_ALREADY_EXISTS'))
          throw error;
        id = await this.findExperiment(name);
        if (id === undefined) throw error;
      }
    }
    this.experimentIds.set(name, id);
    return id;
  }

  private async findExperiment(name: string): Promise<string | undefined> {
    try {
      const { experiment } = await this.client.get<{
        experiment: { experiment_id: string; lifecycle_stage?: string };
      }>('experiments/get-by-name', { experiment_name: name });
      if (experiment.lifecycle_stage === 'deleted') {
        throw new MlflowError(`experiment '${name}' is deleted in MLflow`, {
          retryable: false,
          hint: 'restore it in MLflow, or log to another experiment',
        });
      }
      return experiment.experiment_id;
    } catch (error) {
      if (MlflowError.isInstance(error) && error.errorCode === 'RESOURCE_DOES_NOT_EXIST')
        return undefined;
      throw error;
    }
  }

  private async findRunByUid(experimentId: string, uid: string): Promise<MlflowRun | undefined> {
    const { runs } = await this.client.post<{ runs?: MlflowRun[] }>('runs/search', {
      experiment_ids: [experimentId],
      filter: `tags."trackstack.uid" = '${uid}'`,
      run_view_type: 'ALL',
      max_results: 1,
    });
    return runs?.[0];
  }

  /** The run's path under the artifact proxy, from its `mlflow-artifacts:` URI. */
  private async artifactRoot(ref: RunRef): Promise<string> {
    let uri = typeof ref.data?.artifactUri === 'string' ? ref.data.artifactUri : undefined;
    if (uri === undefined) {
      const { run } = await this.client.get<{ run: MlflowRun }>('runs/get', { run_id: ref.runId });
      uri = run.info.artifact_uri ?? '';
    }
    const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.+)$/.exec(uri);
    if (match === null) {
      throw new MlflowError(
        `run ${ref.runId} keeps artifacts at ${uri.split(':')[0]}: storage this client cannot write (only the server's artifact proxy, mlflow-artifacts:)`,
        {
          retryable: false,
          hint: 'start the server with --artifacts-destination (artifact proxying), or log artifacts with a client that has that store',
        },
      );
    }
    return match[1]!.split('/').map(encodeURIComponent).join('/');
  }
}
