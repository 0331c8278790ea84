/**
 * The W&B flavor: trackstack's primitives on W&B's service API (online) or
 * W&B's own offline run directories (offline, for `wandb sync`). Params are
 * config, metrics are history rows keyed by step, tags are run tags.
 *
 * Creating or resuming a run decides online or offline once: the run object
 * (`WandbOnlineRun`, `WandbOfflineRun`) then takes each primitive's call.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import {
  type ArtifactUpload,
  BaseExperimentTracker,
  type DatasetInput,
  DEFAULT_LIMITS,
  defineFlavor,
  type FinalRunStatus,
  type FlavorCapabilities,
  type FlavorLimits,
  type Media,
  type RunInit,
  type RunRef,
  type StepRunInfo,
  type StepRunLayout,
  type WriteBatch,
} from '@trackstack/core';
import { WandbClient } from './wandb-client.js';
import {
  type ResolvedWandbConfig,
  resolveWandbConfig,
  type WandbConfig,
  wandbConfigSchema,
  wandbRunIdProblem,
} from './wandb-config.js';
import { WandbError } from './wandb-error.js';
import { wandbMetadata } from './wandb-metadata.js';
import { WandbOfflineRun } from './wandb-offline-run.js';
import { WandbOnlineRun, type WandbOnlineRunOptions } from './wandb-online-run.js';
import { checkResume } from './wandb-resume.js';
import type { WandbRun } from './wandb-run.js';
import { runTags, stepRunWandbId } from './wandb-run-config.js';

export class WandbExperimentTracker extends BaseExperimentTracker<WandbConfig> {
  static readonly FLAVOR = defineFlavor({
    name: 'wandb',
    displayName: 'Weights & Biases',
    configSchema: wandbConfigSchema,
    docsUrl: 'https://github.com/trackstack/trackstack/tree/main/packages/tracker-wandb#readme',
    sdkDocsUrl: 'https://docs.wandb.ai/ref/python/',
    logoUrl: 'https://wandb.ai/logo.svg',
  });

  private resolved: ResolvedWandbConfig | undefined;
  private wandbClient: WandbClient | undefined;
  /** The runs this tracker writes, by W&B run id. */
  private readonly runs = new Map<string, WandbRun>();
  /** W&B runs this tracker upserted: a create retried after a lost answer finds its own run. */
  private readonly created = new Set<string>();

  /** The config with W&B's environment variables applied; read on first use, not at import. */
  get settings(): ResolvedWandbConfig {
    this.resolved ??= resolveWandbConfig(this.config);
    return this.resolved;
  }

  /**
   * The HTTP client: its requests are the flavor's business, not its users'.
   * @internal
   */
  get client(): WandbClient {
    this.wandbClient ??= new WandbClient(this.settings);
    return this.wandbClient;
  }

  override get limits(): FlavorLimits {
    if (this.config.mode === 'offline') {
      // One fsync of the .wandb file per batch; a batch's points stay journal columns until written.
      return {
        logging: DEFAULT_LIMITS.logging,
        request: {
          maxMetrics: 200_000,
          maxParams: 10_000,
          maxTags: 1_000,
          maxEntities: 200_000,
          maxBytes: 64_000_000,
        },
      };
    }
    // W&B has no per-request entity limits; a file_stream request stays well under its ~10 MiB cap.
    return {
      logging: DEFAULT_LIMITS.logging,
      request: {
        maxMetrics: 20_000,
        maxParams: 10_000,
        maxTags: 1_000,
        maxEntities: 20_000,
        maxBytes: 8_000_000,
      },
    };
  }

  override get capabilities(): FlavorCapabilities {
    return {
      // History rows must arrive in step order; one request at a time, paced like W&B's client.
      orderedWrites: true,
      maxConcurrency: 1,
      nestedRuns: false,
      artifacts: true,
      inputs: true,
      media: ['image', 'table', 'histogram'],
      resume: true,
      minWriteIntervalMs: this.config.file_stream_interval_s * 1000,
      console: true,
    };
  }

  /**
   * The W&B run id of a run (see `run_id_strategy`), checked against the SDK's
   * rules before anything goes on the network.
   */
  wandbRunId(init: Pick<RunInit, 'uid' | 'tags'>): string {
    let id = init.uid;
    const pipelineRun = init.tags['zenml.pipeline_run'];
    const step = init.tags['zenml.step'];
    if (this.config.run_id_strategy === 'step' && pipelineRun && step) {
      id = stepRunWandbId(pipelineRun, step);
    }
    const problem = wandbRunIdProblem(id);
    if (problem !== undefined) {
      throw new WandbError(`run ${init.uid}: ${problem} (${JSON.stringify(id)})`, {
        retryable: false,
        hint: "start the run with another id, or use run_id_strategy: 'step' for step runs",
      });
    }
    return id;
  }

  async createRun(init: RunInit): Promise<RunRef> {
    const project = this.settings.project_name ?? init.experiment;
    const tags = [...this.config.tags, ...runTags(init.tags)];
    // A child run is grouped under its parent's id (the parent's W&B run id under the default
    // run_id_strategy): W&B has no nested runs.
    const group = this.config.group ?? init.tags['zenml.pipeline_run'] ?? init.parentUid;
    const runId = this.wandbRunId(init);
    const run =
      this.settings.mode === 'offline'
        ? this.createOfflineRun(init, runId, project, tags, group)
        : await this.createOnlineRun(init, runId, project, tags, group);
    this.hold(run);
    return run.ref();
  }

  override async resumeRun(ref: RunRef): Promise<RunRef> {
    const known = this.runs.get(ref.runId);
    if (known !== undefined) return ref;
    const data = ref.data ?? {};
    if (data.offline === true) {
      throw new WandbError(`W&B offline run ${ref.runId} cannot be reopened by another process`, {
        retryable: false,
        hint: 'sync the trackstack run to an online W&B tracker instead (`trackstack sync <run> --to <tracker>`)',
      });
    }
    const project =
      typeof data.project === 'string' ? data.project : (this.settings.project_name ?? '');
    const entity = typeof data.entity === 'string' ? data.entity : this.settings.entity;
    const status = await this.client.resumeStatus(entity, project, ref.runId);
    if (status === undefined) {
      throw new WandbError(`W&B has no run ${entity ?? ''}/${project}/${ref.runId}`, {
        retryable: false,
        statusCode: 404,
      });
    }
    const run = this.onlineRun({
      entity: entity ?? '',
      project,
      runId: ref.runId,
      uid: typeof data.uid === 'string' ? data.uid : ref.runId,
      startTime: typeof data.startTime === 'number' ? data.startTime : Date.now(),
      tags: [],
    });
    run.continueFrom(status, {
      consoleBase: typeof data.consoleBase === 'number' ? data.consoleBase : undefined,
    });
    this.hold(run);
    run.startHeartbeat();
    return ref;
  }

  async writeBatch(ref: RunRef, batch: WriteBatch): Promise<void> {
    const run = await this.run(ref);
    await run.write(batch);
  }

  async uploadArtifact(ref: RunRef, artifact: ArtifactUpload): Promise<void> {
    const run = await this.run(ref);
    await run.upload(artifact);
  }

  /** The run's config holds it; online, a `dataset` artifact the run uses too (wandb-artifact.ts). */
  async logInput(ref: RunRef, input: DatasetInput): Promise<void> {
    const run = await this.run(ref);
    await run.logInput(input);
  }

  /**
   * Media as the SDK logs it: images as run files under `media/` and history values,
   * histograms as history values, tables as `run_table` artifacts with a history value.
   */
  async logMedia(ref: RunRef, media: Media): Promise<void> {
    const run = await this.run(ref);
    if (media.kind === 'table') await run.logTable(media);
    else await run.logMedia(media);
  }

  async finishRun(ref: RunRef, status: FinalRunStatus, endTime: number): Promise<void> {
    const run = await this.run(ref);
    await run.finish(status, endTime);
    this.runs.delete(run.runId);
  }

  async validateConnection(): Promise<void> {
    if (this.settings.mode === 'offline') {
      await mkdir(this.settings.dir, { recursive: true });
      await access(this.settings.dir, constants.W_OK);
      return;
    }
    await this.client.viewer();
  }

  override runMetadata(ref: RunRef): Record<string, string> {
    const data = ref.data ?? {};
    const entity = typeof data.entity === 'string' ? data.entity : '';
    const project = typeof data.project === 'string' ? data.project : '';
    return {
      wandb_run_id: ref.runId,
      wandb_run_path: `${entity}/${project}/${ref.runId}`,
      ...(entity === '' ? {} : { wandb_entity: entity }),
      ...(project === '' ? {} : { wandb_project: project }),
    };
  }

  /** The W&B app's page of a run (wandb.ai for the public service, the server itself otherwise). */
  runUrl(entity: string, project: string, runId: string): string {
    const app =
      this.settings.baseUrl === 'https://api.wandb.ai' ? 'https://wandb.ai' : this.settings.baseUrl;
    return `${app}/${[entity, project].map(encodeURIComponent).join('/')}/runs/${encodeURIComponent(runId)}`;
  }

  /** A step's run name may come from its settings (`run_name`), as in ZenML's W&B settings. */
  override stepRunLayout(info: StepRunInfo): StepRunLayout {
    const layout = super.stepRunLayout(info);
    const name = info.settings?.run_name;
    return typeof name === 'string' && name !== '' ? { run: { ...layout.run, name } } : layout;
  }

  /** A new run directory under `<dir>/wandb/`, for `wandb sync`. */
  private createOfflineRun(
    init: RunInit,
    runId: string,
    project: string,
    tags: string[],
    group: string | undefined,
  ): WandbOfflineRun {
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
      throw new WandbError(`W&B offline run ids name directories: ${JSON.stringify(runId)}`, {
        retryable: false,
        hint: 'offline runs need ids of letters, digits, _ and -',
      });
    }
    return WandbOfflineRun.create({
      dir: this.settings.dir,
      project,
      entity: this.settings.entity,
      runId,
      displayName: this.config.run_name ?? init.name,
      group,
      jobType: this.config.job_type,
      notes: this.config.notes,
      tags,
      startTimeMs: init.startTime,
      uid: init.uid,
      ...(init.source === undefined
        ? {}
        : { metadata: wandbMetadata(init.source, init.startTime) }),
    });
  }

  /** The W&B run upserted (after the `resume` check, continuing what W&B has), its heartbeat on. */
  private async createOnlineRun(
    init: RunInit,
    runId: string,
    project: string,
    tags: string[],
    group: string | undefined,
  ): Promise<WandbOnlineRun> {
    const run = this.onlineRun({
      entity: this.settings.entity ?? '',
      project,
      runId,
      uid: init.uid,
      startTime: init.startTime,
      tags,
    });
    // The W&B run id is derived from the run (run_id_strategy): a retried create upserts the same run.
    await this.client.serverFeatures();
    const resume = this.config.resume;
    if (resume !== undefined) {
      // As wandb.init(resume=...): ask W&B first, and continue what it has.
      const existing = await this.client.resumeStatus(this.settings.entity, project, runId);
      checkResume(
        resume,
        existing,
        `${this.settings.entity ?? ''}/${project}/${runId}`,
        this.created.has(`${project}/${runId}`),
      );
      if (existing !== undefined) {
        // No console line of this run was sent before its ref existed: what W&B has came before.
        run.continueFrom(existing, { consoleBase: existing.logLineCount ?? 0, tags });
      }
    }
    this.created.add(`${project}/${runId}`);
    await run.create(
      {
        entity: this.settings.entity ?? null,
        displayName: this.config.run_name ?? init.name,
        groupName: group ?? null,
        jobType: this.config.job_type ?? null,
        notes: this.config.notes ?? null,
      },
      init.source === undefined ? undefined : wandbMetadata(init.source, init.startTime),
    );
    run.startHeartbeat();
    return run;
  }

  private onlineRun(
    run: Omit<WandbOnlineRunOptions, 'client' | 'runUrl' | 'heartbeatIntervalS'>,
  ): WandbOnlineRun {
    return new WandbOnlineRun({
      ...run,
      client: this.client,
      runUrl: (entity, project, runId) => this.runUrl(entity, project, runId),
      heartbeatIntervalS: this.config.heartbeat_interval_s,
    });
  }

  /** Keeps a run for the primitives; one it replaces (its id created again) is let go. */
  private hold(run: WandbRun): void {
    const previous = this.runs.get(run.runId);
    this.runs.set(run.runId, run);
    if (previous !== undefined && previous !== run) previous.release?.();
  }

  /** The run of a ref: one this tracker holds, else resumed (a ref from an earlier process). */
  private async run(ref: RunRef): Promise<WandbRun> {
    const known = this.runs.get(ref.runId);
    if (known !== undefined) return known;
    await this.resumeRun(ref);
    return this.runs.get(ref.runId)!;
  }
}
