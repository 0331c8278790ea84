/**
 * An in-memory flavor: a reference implementation of the primitives, and a
 * test double with fault injection. Its backend behaves like MLflow's where it
 * matters for correctness: createRun finds an existing run by uid, params
 * cannot change, exact duplicate metric points are stored once.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { DEFAULT_CAPABILITIES, type FlavorCapabilities } from '../contract/backend.js';
import { BaseExperimentTracker } from '../contract/base-tracker.js';
import { BackendError } from '../contract/errors.js';
import { defineFlavor } from '../contract/flavor.js';
import { DEFAULT_LIMITS, type FlavorLimits } from '../contract/limits.js';
import {
  type ArtifactUpload,
  type ConsoleLine,
  type DatasetInput,
  type FinalRunStatus,
  type Media,
  type MetricPoint,
  type ResumeOptions,
  type RunInit,
  type RunRef,
  type RunStatus,
  UID_TAG,
} from '../contract/types.js';
import type { WriteBatch } from '../contract/write-batch.js';

export interface StoredRun {
  runId: string;
  init: RunInit;
  status: RunStatus;
  endTime: number | undefined;
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: MetricPoint[];
  /** Exact (key, step, timestamp, value) identities already stored: replays are stored once. */
  metricIdentities: Set<string>;
  artifacts: Map<string, { sha256: string; size: number; contentType: string; bytes: Buffer }>;
  /** Console output by line number (with the `console` option): a line sent again replaces it. */
  console: Map<number, ConsoleLine>;
  /** Dataset inputs, each (name, digest, context) once. */
  inputs: DatasetInput[];
  /** Media in arrival order, each (kind, key, step, timestamp) once; an image's bytes read back. */
  media: (Media & { bytes?: Buffer })[];
}

export type BackendOperation =
  | 'createRun'
  | 'logInput'
  | 'logMedia'
  | 'resumeRun'
  | 'writeBatch'
  | 'uploadArtifact'
  | 'finishRun'
  | 'validateConnection';

export interface RecordedCall {
  op: BackendOperation;
  runId: string | undefined;
  /** For writeBatch: entity counts of the batch. */
  params?: number;
  tags?: number;
  metrics?: number;
  console?: number;
}

/** The "server" behind in-memory trackers; trackers find it by name from their config. */
export class InMemoryBackend {
  private static readonly backends = new Map<string, InMemoryBackend>();

  static get(name = 'default'): InMemoryBackend {
    let backend = InMemoryBackend.backends.get(name);
    if (backend === undefined) {
      backend = new InMemoryBackend();
      InMemoryBackend.backends.set(name, backend);
    }
    return backend;
  }

  readonly runs = new Map<string, StoredRun>();
  readonly calls: RecordedCall[] = [];
  /** Added to every call. */
  latencyMs = 0;
  private readonly faults: { op: BackendOperation | '*'; error: () => Error; times: number }[] = [];
  private nextId = 1;

  /** The next `times` calls of `op` throw what `error` makes. */
  failNext(op: BackendOperation | '*', error: () => Error, times = 1): void {
    this.faults.push({ op, error, times });
  }

  /** Every call of `op` throws until `heal()`. */
  breakDown(op: BackendOperation | '*', error: () => Error): void {
    this.faults.push({ op, error, times: Number.POSITIVE_INFINITY });
  }

  heal(): void {
    this.faults.length = 0;
  }

  findByUid(uid: string): StoredRun | undefined {
    for (const run of this.runs.values()) if (run.tags.get(UID_TAG) === uid) return run;
    return undefined;
  }

  async call<T>(
    op: BackendOperation,
    runId: string | undefined,
    fn: () => T,
    extra: Partial<RecordedCall> = {},
  ): Promise<T> {
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    this.calls.push({ op, runId, ...extra });
    const fault = this.faults.find((f) => (f.op === op || f.op === '*') && f.times > 0);
    if (fault !== undefined) {
      fault.times -= 1;
      throw fault.error();
    }
    return fn();
  }

  createRun(init: RunInit): StoredRun {
    const existing = this.findByUid(init.uid);
    if (existing !== undefined) return existing;
    const run: StoredRun = {
      runId: `run-${this.nextId++}`,
      init,
      status: 'RUNNING',
      endTime: undefined,
      params: new Map(),
      tags: new Map(Object.entries(init.tags)),
      metrics: [],
      metricIdentities: new Set(),
      artifacts: new Map(),
      console: new Map(),
      inputs: [],
      media: [],
    };
    this.runs.set(run.runId, run);
    return run;
  }

  get(runId: string): StoredRun {
    const run = this.runs.get(runId);
    if (run === undefined) {
      throw new BackendError('BACKEND_REJECTED', `run ${runId} does not exist`, {
        retryable: false,
        statusCode: 404,
      });
    }
    return run;
  }
}

export const inMemoryConfigSchema = z.object({
  /** Which in-memory backend to use (trackers with the same name share runs). */
  backend: z.string().default('default'),
  max_metrics_per_batch: z.number().int().positive().optional(),
  ordered_writes: z.boolean().default(false),
  /** Points laid out key by key in requests (see FlavorCapabilities.metricOrder). */
  metric_order: z.enum(['logged', 'by-key']).optional(),
  /** Pace writes like W&B's file_stream (see FlavorCapabilities.minWriteIntervalMs). */
  min_write_interval_ms: z.number().int().nonnegative().optional(),
  /** Take console output (FlavorCapabilities.console). */
  console: z.boolean().optional(),
});

export class InMemoryTracker extends BaseExperimentTracker<z.output<typeof inMemoryConfigSchema>> {
  static readonly FLAVOR = defineFlavor({
    name: 'memory',
    displayName: 'In-memory (for tests)',
    configSchema: inMemoryConfigSchema,
  });

  get backend(): InMemoryBackend {
    return InMemoryBackend.get(this.config.backend);
  }

  override get limits(): FlavorLimits {
    const max = this.config.max_metrics_per_batch;
    if (max === undefined) return DEFAULT_LIMITS;
    return { ...DEFAULT_LIMITS, request: { ...DEFAULT_LIMITS.request, maxMetrics: max } };
  }

  override get capabilities(): FlavorCapabilities {
    return {
      ...DEFAULT_CAPABILITIES,
      orderedWrites: this.config.ordered_writes,
      nestedRuns: true,
      inputs: true,
      media: ['image', 'table', 'histogram'],
      minWriteIntervalMs: this.config.min_write_interval_ms ?? 0,
      console: this.config.console ?? false,
      metricOrder: this.config.metric_order ?? 'logged',
    };
  }

  createRun(init: RunInit): Promise<RunRef> {
    return this.backend.call('createRun', undefined, () => {
      const run = this.backend.createRun(init);
      return {
        runId: run.runId,
        url: `memory://${this.config.backend}/${run.runId}`,
        data: { parent: init.parent?.runId },
      };
    });
  }

  override resumeRun(ref: RunRef, options: ResumeOptions): Promise<RunRef> {
    return this.backend.call('resumeRun', ref.runId, () => {
      const run = this.backend.get(ref.runId);
      if (options.reopen) run.status = 'RUNNING';
      return ref;
    });
  }

  writeBatch(ref: RunRef, batch: WriteBatch): Promise<void> {
    return this.backend.call(
      'writeBatch',
      ref.runId,
      () => {
        const run = this.backend.get(ref.runId);
        for (const { key, value } of batch.params) {
          const previous = run.params.get(key);
          if (previous !== undefined && previous !== value) {
            throw new BackendError('BACKEND_REJECTED', `param ${key} cannot change`, {
              retryable: false,
              statusCode: 400,
            });
          }
        }
        for (const { key, value } of batch.params) run.params.set(key, value);
        for (const { key, value } of batch.tags) run.tags.set(key, value);
        for (const point of batch.metrics) {
          const identity = `${point.key}\u0000${point.step}\u0000${point.timestamp}\u0000${point.value}`;
          if (run.metricIdentities.has(identity)) continue;
          run.metricIdentities.add(identity);
          run.metrics.push({ ...point });
        }
        for (const line of batch.console ?? []) run.console.set(line.line, { ...line });
      },
      {
        params: batch.params.length,
        tags: batch.tags.length,
        metrics: batch.metrics.length,
        ...(batch.console === undefined ? {} : { console: batch.console.length }),
      },
    );
  }

  async uploadArtifact(ref: RunRef, artifact: ArtifactUpload): Promise<void> {
    const bytes = await readFile(artifact.localPath);
    return this.backend.call('uploadArtifact', ref.runId, () => {
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      this.backend.get(ref.runId).artifacts.set(artifact.path, {
        sha256,
        size: bytes.length,
        contentType: artifact.contentType,
        bytes,
      });
    });
  }

  logInput(ref: RunRef, input: DatasetInput): Promise<void> {
    return this.backend.call('logInput', ref.runId, () => {
      const run = this.backend.get(ref.runId);
      const same = (a: DatasetInput) =>
        a.name === input.name && a.digest === input.digest && a.context === input.context;
      if (!run.inputs.some(same)) run.inputs.push(input);
    });
  }

  async logMedia(ref: RunRef, media: Media): Promise<void> {
    await this.backend.call('logMedia', ref.runId, async () => {
      const run = this.backend.get(ref.runId);
      const same = (a: Media) =>
        a.kind === media.kind &&
        a.key === media.key &&
        a.step === media.step &&
        a.timestamp === media.timestamp;
      if (run.media.some(same)) return;
      const bytes = media.kind === 'image' ? await readFile(media.image.localPath) : undefined;
      run.media.push(bytes === undefined ? media : { ...media, bytes });
    });
  }

  finishRun(ref: RunRef, status: FinalRunStatus, endTime: number): Promise<void> {
    return this.backend.call('finishRun', ref.runId, () => {
      const run = this.backend.get(ref.runId);
      run.status = status;
      run.endTime = endTime;
    });
  }

  validateConnection(): Promise<void> {
    return this.backend.call('validateConnection', undefined, () => undefined);
  }

  override runMetadata(ref: RunRef): Record<string, string> {
    return { memory_run_id: ref.runId };
  }
}
