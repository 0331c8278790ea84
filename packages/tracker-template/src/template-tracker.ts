/**
 * The flavor: trackstack's primitives on the JSON protocol of README.md.
 * Core owns validation, batching, retries, the journal and the step
 * lifecycle; this class only maps each primitive to one request (two for a
 * resume that reopens a run).
 *
 * To make it speak to another backend, keep the class and its FLAVOR, and
 * change what each primitive sends (template-client.ts) and the limits and
 * capabilities below to what that backend can take.
 */
import { createReadStream } from 'node:fs';
import {
  type ArtifactUpload,
  BaseExperimentTracker,
  DEFAULT_LIMITS,
  defineFlavor,
  type FinalRunStatus,
  type FlavorCapabilities,
  type FlavorLimits,
  type Media,
  type ResumeOptions,
  type RunInit,
  type RunRef,
  type WriteBatch,
} from '@trackstack/core';
import { encodeNumber, TemplateClient, type TemplateRun } from './template-client.js';
import {
  type ResolvedTemplateConfig,
  resolveTemplateConfig,
  type TemplateConfig,
  templateConfigSchema,
} from './template-config.js';

/**
 * Core checks every key and value against `logging` at the logging call, and
 * cuts what the journal holds into requests of `request`. The server accepts
 * up to 10 000 entities and 16 MiB a request, so these stay well inside.
 */
const TEMPLATE_LIMITS: Readonly<FlavorLimits> = Object.freeze({
  logging: DEFAULT_LIMITS.logging,
  request: Object.freeze({
    maxMetrics: 5000,
    maxParams: 1000,
    maxTags: 1000,
    maxEntities: 5000,
    maxBytes: 4_000_000,
  }),
});

export class TemplateExperimentTracker extends BaseExperimentTracker<TemplateConfig> {
  static readonly FLAVOR = defineFlavor({
    name: 'template',
    displayName: 'Template (JSON over HTTP)',
    configSchema: templateConfigSchema,
    docsUrl: 'https://www.npmjs.com/package/@trackstack/tracker-template',
  });

  private resolved: ResolvedTemplateConfig | undefined;
  private templateClient: TemplateClient | undefined;

  /** The config with its rules checked; read on first use, not when the tracker is built. */
  get settings(): ResolvedTemplateConfig {
    this.resolved ??= resolveTemplateConfig(this.config);
    return this.resolved;
  }

  /**
   * The HTTP client: its requests are the flavor's business, not its users'.
   * @internal
   */
  get client(): TemplateClient {
    this.templateClient ??= new TemplateClient(this.settings);
    return this.templateClient;
  }

  override get limits(): FlavorLimits {
    return TEMPLATE_LIMITS;
  }

  override get capabilities(): FlavorCapabilities {
    return {
      // The server stores a batch whole, and points are read back in step order: no need to wait.
      orderedWrites: false,
      maxConcurrency: 4,
      nestedRuns: true,
      artifacts: true,
      resume: true,
      // Images arrive in logMedia (tables and histograms too, when listed here); core warns
      // once per run about a kind a flavor does not take, and the journal keeps it.
      media: ['image'],
    };
  }

  /** Idempotent by uid: the server returns the run that already has `init.uid`. */
  async createRun(init: RunInit): Promise<RunRef> {
    // `init.source` says where the run ran (git, command, host, ...): a backend with fields for
    // it maps them here (MLflow's mlflow.source.* tags, W&B's wandb-metadata.json). System
    // metrics need nothing: they arrive as `system/...` metrics in writeBatch.
    const run = await this.client.createRun({
      uid: init.uid,
      experiment: init.experiment,
      name: init.name,
      tags: init.tags,
      start_time: init.startTime,
      parent_id: init.parent?.runId,
    });
    return this.ref(run);
  }

  override async resumeRun(ref: RunRef, options: ResumeOptions): Promise<RunRef> {
    const run = await this.client.getRun(ref.runId);
    if (options.reopen && run.status !== 'RUNNING') await this.client.reopenRun(ref.runId);
    return this.ref(run);
  }

  /** Idempotent: params are write-once, tags last-wins, and the server stores a point once. */
  async writeBatch(ref: RunRef, batch: WriteBatch): Promise<void> {
    await this.client.writeBatch(ref.runId, {
      params: batch.params,
      tags: batch.tags,
      metrics: batch.metrics.map((m) => ({
        key: m.key,
        value: encodeNumber(m.value),
        step: m.step,
        timestamp: m.timestamp,
      })),
    });
  }

  async uploadArtifact(ref: RunRef, artifact: ArtifactUpload): Promise<void> {
    await this.client.putArtifact(
      ref.runId,
      artifact.path,
      createReadStream(artifact.localPath),
      artifact.size,
      artifact.contentType,
      artifact.sha256,
    );
  }

  /**
   * An image, staged by core (PNG or JPEG, its size read from the header), stored as the
   * artifact `media/<key>/step-<step>.<png|jpg>`. A backend with an image type of its own
   * sends `media.image` (its `localPath`, `width`, `height`, `caption`) there instead.
   * Idempotent: the same key and step write the same path.
   */
  async logMedia(ref: RunRef, media: Media): Promise<void> {
    if (media.kind !== 'image') return;
    const { image } = media;
    const extension = image.format === 'jpeg' ? 'jpg' : 'png';
    await this.client.putArtifact(
      ref.runId,
      `media/${media.key}/step-${media.step}.${extension}`,
      createReadStream(image.localPath),
      image.size,
      `image/${image.format}`,
      image.sha256,
    );
  }

  async finishRun(ref: RunRef, status: FinalRunStatus, endTime: number): Promise<void> {
    await this.client.finishRun(ref.runId, status, endTime);
  }

  async validateConnection(): Promise<void> {
    await this.client.health();
  }

  override runMetadata(ref: RunRef): Record<string, string> {
    return { template_run_id: ref.runId };
  }

  private ref(run: TemplateRun): RunRef {
    return {
      runId: run.id,
      url: `${this.settings.baseUrl}/runs/${encodeURIComponent(run.id)}`,
    };
  }
}
