/**
 * One online W&B run: what W&B's service holds of it as far as this process
 * knows (history lines and the last row, summary, config, tags, where console
 * line 0 goes in output.log), and the requests that change it: UpsertBucket
 * for the run and its config and tags, file_stream for history, summary,
 * console lines, uploads and the end, and the heartbeat that keeps an idle
 * run from being marked crashed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import type {
  ArtifactUpload,
  ConsoleLine,
  DatasetInput,
  FinalRunStatus,
  HistogramMedia,
  ImageMedia,
  RunRef,
  TableMedia,
  WriteBatch,
} from '@trackstack/core';
import { datasetArtifact, manifestJson, type WandbArtifact } from './wandb-artifact.js';
import type {
  FileStreamRequest,
  ResumeStatus,
  UpsertBucketInput,
  WandbClient,
} from './wandb-client.js';
import { OUTPUT_LOG, outputLogLine } from './wandb-console.js';
import { WandbError } from './wandb-error.js';
import { type HistoryRow, historyRows, jsonWithNonFinite } from './wandb-history.js';
import { histogramValue, imageValue } from './wandb-media.js';
import type { WandbMetadata } from './wandb-metadata.js';
import { resumedRunState } from './wandb-resume.js';
import { EXIT_CODES, type WandbRun } from './wandb-run.js';
import { datasetConfig, paramValue, runTags, wandbConfig } from './wandb-run-config.js';
import { isSystemKey, SystemSamples, type WandbSystemSample } from './wandb-system.js';
import { wandbTable } from './wandb-table.js';

/** W&B's own client sends an empty file_stream request after this much silence. */
const DEFAULT_HEARTBEAT_S = 30;

export interface WandbOnlineRunOptions {
  client: WandbClient;
  /** The entity as far as known ('' for the key's default): `create` learns it from W&B. */
  entity: string;
  project: string;
  runId: string;
  /** The trackstack run's uid, kept in `_wandb.trackstack_uid` of the W&B config. */
  uid: string;
  /** Epoch ms; history `_runtime` is measured from it. */
  startTime: number;
  tags: string[];
  /** The W&B app's page of a run, for the ref's `url`. */
  runUrl: (entity: string, project: string, runId: string) => string;
  /** Seconds of silence before a heartbeat; 30 (as W&B's client) when unset. */
  heartbeatIntervalS?: number | undefined;
}

/** What UpsertBucket gets when the run is created, besides what the run holds itself. */
export type WandbRunDetails = Pick<
  UpsertBucketInput,
  'entity' | 'displayName' | 'groupName' | 'jobType' | 'notes'
>;

export class WandbOnlineRun implements WandbRun {
  readonly runId: string;
  private readonly client: WandbClient;
  private readonly runUrl: WandbOnlineRunOptions['runUrl'];
  private readonly heartbeatMs: number;
  private entity: string;
  private readonly project: string;
  private readonly uid: string;
  private readonly startTime: number;
  private tags: string[];
  /** Params as W&B config values. */
  private readonly config: Record<string, unknown> = {};
  private summary: Record<string, unknown> = {};
  /** Line of output.log where console line 0 goes (lines a W&B run had before trackstack wrote to it). */
  private consoleBase = 0;
  /** Lines of wandb-history.jsonl the service holds. */
  private historyLines = 0;
  /** Lines of wandb-events.jsonl (system metrics) the service holds. */
  private eventsLines = 0;
  /** The last row sent: a batch that continues its step rewrites it at its offset. */
  private lastRow: HistoryRow | undefined;
  private lastRequestAt = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(options: WandbOnlineRunOptions) {
    this.client = options.client;
    this.runUrl = options.runUrl;
    this.heartbeatMs = (options.heartbeatIntervalS ?? DEFAULT_HEARTBEAT_S) * 1000;
    this.entity = options.entity;
    this.project = options.project;
    this.runId = options.runId;
    this.uid = options.uid;
    this.startTime = options.startTime;
    this.tags = options.tags;
  }

  /**
   * Goes on from what W&B has of the run (its RunResumeStatus): history,
   * summary, config and tags are kept, ours go after them. Console line 0
   * goes to line `consoleBase` of output.log; `tags` are added to W&B's.
   */
  continueFrom(
    status: ResumeStatus,
    options: { consoleBase?: number | undefined; tags?: readonly string[] | undefined },
  ): void {
    const resumed = resumedRunState(status);
    this.historyLines = resumed.historyLines;
    this.eventsLines = status.eventsLineCount ?? this.eventsLines;
    if (resumed.tags !== undefined) this.tags = resumed.tags;
    this.summary = resumed.summary;
    Object.assign(this.config, resumed.config);
    if (resumed.lastRow !== undefined) this.lastRow = resumed.lastRow;
    if (options.consoleBase !== undefined) this.consoleBase = options.consoleBase;
    if (options.tags !== undefined) this.tags = [...new Set([...this.tags, ...options.tags])];
  }

  /**
   * Upserts the W&B run with its tags and config (W&B names the entity) and,
   * when the run knows where it ran, uploads `wandb-metadata.json` as
   * wandb-core does.
   */
  async create(details: WandbRunDetails, metadata?: WandbMetadata): Promise<void> {
    const bucket = await this.client.upsertBucket({
      name: this.runId,
      project: this.project,
      entity: details.entity,
      displayName: details.displayName,
      groupName: details.groupName,
      jobType: details.jobType,
      notes: details.notes,
      tags: this.tags,
      config: JSON.stringify(wandbConfig(this.config, this.uid)),
      host: metadata?.host ?? hostname(),
      program: metadata?.program ?? null,
      commit: metadata?.git?.commit ?? null,
      repo: metadata?.git?.remote ?? null,
    });
    this.entity = bucket.project.entity.name;
    this.historyLines = bucket.historyLineCount ?? this.historyLines;
    if (metadata !== undefined) await this.uploadMetadata(metadata);
  }

  private async uploadMetadata(metadata: WandbMetadata): Promise<void> {
    const name = 'wandb-metadata.json';
    const bytes = Buffer.from(JSON.stringify(metadata, null, 2));
    const { uploadHeaders, files } = await this.client.createRunFiles(
      this.entity,
      this.project,
      this.runId,
      [name],
    );
    const target = files.find((file) => file.name === name);
    if (target === undefined)
      throw new WandbError(`CreateRunFiles gave no upload URL for ${name}`, { retryable: true });
    await this.client.upload(target.uploadUrl, uploadHeaders, Readable.from([bytes]), bytes.length);
    await this.stream({ uploaded: [name] });
  }

  ref(): RunRef {
    return {
      runId: this.runId,
      url: this.runUrl(this.entity, this.project, this.runId),
      data: {
        entity: this.entity,
        project: this.project,
        startTime: this.startTime,
        uid: this.uid,
        consoleBase: this.consoleBase,
      },
    };
  }

  async write(batch: WriteBatch): Promise<void> {
    const configUpdate: Record<string, unknown> = {};
    for (const { key, value } of batch.params) configUpdate[key] = paramValue(value);
    const tagsBefore = this.tags.length;
    for (const tag of runTags(Object.fromEntries(batch.tags.map((t) => [t.key, t.value])))) {
      const name = tag.slice(0, tag.indexOf(':') + 1);
      this.tags = this.tags.filter((t) => !(name !== '' && t.startsWith(name)));
      this.tags.push(tag);
    }
    // System metrics go to wandb-events.jsonl, the rest to history.
    const samples = new SystemSamples();
    const history = batch.metrics.filter((point) => {
      if (!isSystemKey(point.key)) return true;
      samples.add(point.key, point.value, point.step, point.timestamp);
      return false;
    });
    const rows = historyRows(history);
    if (batch.params.length > 0 || batch.tags.length > 0 || this.tags.length !== tagsBefore) {
      Object.assign(this.config, configUpdate);
      await this.upsertConfig(batch.tags.length > 0);
    }
    if (rows.length > 0) await this.sendHistory(rows);
    const events = samples.take();
    if (events.length > 0) await this.sendEvents(events);
    if (batch.console !== undefined && batch.console.length > 0) {
      await this.sendConsole(batch.console);
    }
  }

  /** System samples as wandb-core streams them: a `wandb-events.jsonl` line each. */
  private async sendEvents(samples: WandbSystemSample[]): Promise<void> {
    const content = samples.map((sample) => {
      const line: Record<string, unknown> = {
        _wandb: true,
        _timestamp: sample.timestampMs / 1000,
        _runtime: Math.max(0, (sample.timestampMs - this.startTime) / 1000),
      };
      for (const [key, value] of sample.items) line[`system.${key}`] = value;
      return jsonWithNonFinite(line);
    });
    await this.stream({
      files: { 'wandb-events.jsonl': { offset: this.eventsLines, content } },
    });
    this.eventsLines += content.length;
  }

  /**
   * A dataset the run read: in the config under `datasets.<name>`, and, with a source, as W&B's
   * client records a used dataset: a `dataset` artifact (the source by reference) that the run
   * uses (`UseArtifact`, `usedAs` the input's context).
   */
  async logInput(input: DatasetInput): Promise<void> {
    const datasets = { ...((this.config.datasets as Record<string, unknown> | undefined) ?? {}) };
    datasets[input.name] = datasetConfig(input);
    this.config.datasets = datasets;
    await this.upsertConfig(false);
    const artifact = datasetArtifact(this.runId, input);
    if (artifact === undefined) return;
    const id = await this.saveArtifact(artifact);
    await this.client.useArtifact({
      artifactId: id,
      entity: this.entity,
      project: this.project,
      run: this.runId,
      usedAs: input.context ?? null,
    });
  }

  /** Config updates resend the whole config (and the tags, when they changed), as W&B's client does. */
  private async upsertConfig(withTags: boolean): Promise<void> {
    await this.client.upsertBucket({
      name: this.runId,
      project: this.project,
      entity: this.entity,
      config: JSON.stringify(wandbConfig(this.config, this.uid)),
      ...(withTags ? { tags: this.tags } : {}),
    });
  }

  async upload(artifact: ArtifactUpload): Promise<void> {
    await this.uploadFile(artifact.path, artifact.localPath, artifact.size);
  }

  /** The media's files as run files (`media/...`), then its value in the row of its step. */
  async logMedia(media: ImageMedia | HistogramMedia): Promise<void> {
    const { value, files } = media.kind === 'image' ? imageValue(media) : histogramValue(media);
    for (const file of files) {
      await this.uploadFile(file.path, file.localPath, (await stat(file.localPath)).size);
    }
    await this.sendHistory([
      { step: media.step, timestamp: media.timestamp, values: new Map([[media.key, value]]) },
    ]);
  }

  /**
   * A table as the SDK logs one: its `run_table` artifact saved and committed (W&B's artifact
   * API, as wandb-core saves one), the run copy uploaded, then the `table-file` value in the row
   * of its step. A retry finds the same artifact (same digest and client id).
   */
  async logTable(media: TableMedia): Promise<void> {
    const table = await wandbTable(this.runId, media);
    await this.saveArtifact(table.artifact);
    await this.uploadFile(table.runFile.path, table.runFile.bytes, table.runFile.bytes.length);
    await this.sendHistory([
      { step: media.step, timestamp: media.timestamp, values: new Map([[media.key, table.value]]) },
    ]);
  }

  /** Creates, uploads and commits an artifact as wandb-core saves one; returns its id. */
  private async saveArtifact(artifact: WandbArtifact): Promise<string> {
    const where = { entity: this.entity, project: this.project, run: this.runId };
    const created = await this.client.createArtifact({
      ...artifact,
      ...where,
      run: artifact.userCreated === true ? null : this.runId,
    });
    // The service has this version already (same digest): nothing to upload.
    if (created.state === 'COMMITTED') return created.id;
    const base = { artifactId: created.id, baseArtifactId: created.latestId, ...where };
    const manifest = await this.client.createArtifactManifest({
      ...base,
      digest: '',
      includeUpload: false,
    });
    const files = artifact.entries.filter((entry) => entry.ref === undefined);
    const births = new Map<string, string>();
    if (files.length > 0) {
      const targets = await this.client.createArtifactFiles(
        created.id,
        manifest.id,
        files.map((entry) => ({ name: entry.path, md5: entry.digest })),
      );
      for (const [i, entry] of files.entries()) {
        const target = targets[i];
        if (target === undefined) {
          throw new WandbError(`CreateArtifactFiles gave no upload URL for ${entry.path}`, {
            retryable: true,
          });
        }
        if (target.uploadUrl !== null) {
          const body =
            entry.bytes === undefined
              ? createReadStream(entry.localPath!)
              : Readable.from([entry.bytes]);
          await this.client.upload(target.uploadUrl, target.uploadHeaders, body, entry.size);
        }
        births.set(entry.path, target.birthArtifactId);
      }
    }
    const manifestBytes = manifestJson(artifact.entries, births);
    const upload = await this.client.createArtifactManifest({
      ...base,
      digest: createHash('md5').update(manifestBytes).digest('base64'),
      includeUpload: true,
    });
    if (upload.uploadUrl === undefined || upload.uploadUrl === null) {
      throw new WandbError(`CreateArtifactManifest gave no upload URL for ${artifact.name}`, {
        retryable: true,
      });
    }
    await this.client.upload(
      upload.uploadUrl,
      upload.uploadHeaders ?? null,
      Readable.from([manifestBytes]),
      manifestBytes.length,
    );
    await this.client.commitArtifact(created.id);
    return created.id;
  }

  private async uploadFile(name: string, source: string | Uint8Array, size: number): Promise<void> {
    const { uploadHeaders, files } = await this.client.createRunFiles(
      this.entity,
      this.project,
      this.runId,
      [name],
    );
    const target = files.find((file) => file.name === name);
    if (target === undefined)
      throw new WandbError(`CreateRunFiles gave no upload URL for ${name}`, { retryable: true });
    const body = typeof source === 'string' ? createReadStream(source) : Readable.from([source]);
    await this.client.upload(target.uploadUrl, uploadHeaders, body, size);
    await this.stream({ uploaded: [name] });
  }

  /** The final file_stream request (summary with the run time, `complete`, `exitcode`). */
  async finish(status: FinalRunStatus, endTime: number): Promise<void> {
    const runtime = Math.max(0, (endTime - this.startTime) / 1000);
    this.summary._runtime = runtime;
    this.summary._wandb = { runtime: Math.floor(runtime) };
    await this.stream({
      files: { 'wandb-summary.json': { offset: 0, content: [jsonWithNonFinite(this.summary)] } },
      complete: true,
      exitcode: EXIT_CODES[status],
    });
    this.release();
  }

  /** Stops the heartbeat. */
  release(): void {
    this.stopped = true;
    if (this.heartbeat !== undefined) clearTimeout(this.heartbeat);
  }

  /**
   * W&B marks a run crashed when its client goes silent: after the heartbeat
   * interval of silence an idle run sends an empty request, as W&B's own
   * client does, until `finish` or `release`.
   */
  startHeartbeat(): void {
    const interval = this.heartbeatMs;
    const arm = () => {
      const wait = Math.max(0, this.lastRequestAt + interval - Date.now());
      this.heartbeat = setTimeout(beat, wait);
      this.heartbeat.unref();
    };
    const beat = () => {
      if (this.stopped) return;
      if (Date.now() - this.lastRequestAt < interval) return arm();
      // Counted as a request even when it fails: the next one is an interval away.
      this.lastRequestAt = Date.now();
      this.stream({})
        .catch(() => {
          // A failed heartbeat is retried by the next one.
        })
        .finally(arm);
    };
    arm();
  }

  /**
   * Appends rows to wandb-history.jsonl. A first row at the step of the last
   * row sent is merged into it and rewritten at its offset (W&B replaces lines
   * from the offset on), so a step split across two batches stays one row.
   * Rows below the last step were sent already (a replay) or would be dropped
   * by W&B: they are left out.
   */
  private async sendHistory(rows: HistoryRow[]): Promise<void> {
    const last = this.lastRow;
    let offset = this.historyLines;
    const lines: HistoryRow[] = [];
    for (const row of rows) {
      if (last !== undefined && row.step < last.step) continue;
      if (last !== undefined && row.step === last.step && lines.length === 0) {
        offset = this.historyLines - 1;
        lines.push({
          step: row.step,
          timestamp: row.timestamp,
          values: new Map([...last.values, ...row.values]),
        });
        continue;
      }
      lines.push(row);
    }
    if (lines.length === 0) return;
    const summary = { ...this.summary };
    for (const row of lines) {
      for (const [key, value] of row.values) summary[key] = value;
      Object.assign(summary, this.rowMeta(row));
    }
    const nextSummary = { ...summary };
    await this.stream({
      files: {
        'wandb-history.jsonl': {
          offset,
          content: lines.map((row) => this.historyLine(row)),
        },
        'wandb-summary.json': { offset: 0, content: [jsonWithNonFinite(nextSummary)] },
      },
    });
    this.summary = nextSummary;
    this.historyLines = offset + lines.length;
    this.lastRow = lines[lines.length - 1];
  }

  private rowMeta(row: HistoryRow): Record<string, number> {
    return {
      _step: row.step,
      _runtime: Math.max(0, row.timestamp - this.startTime) / 1000,
      _timestamp: row.timestamp / 1000,
    };
  }

  private historyLine(row: HistoryRow): string {
    return jsonWithNonFinite({ ...Object.fromEntries(row.values), ...this.rowMeta(row) });
  }

  /**
   * Writes console lines into output.log at their own offsets (a line sent
   * again replaces itself, so replays are harmless). file_stream takes one
   * run of consecutive lines per file and request, as wandb-core splits them.
   */
  private async sendConsole(lines: readonly ConsoleLine[]): Promise<void> {
    let start = 0;
    for (let i = 1; i <= lines.length; i++) {
      if (i < lines.length && lines[i]!.line === lines[i - 1]!.line + 1) continue;
      const run = lines.slice(start, i);
      await this.stream({
        files: {
          [OUTPUT_LOG]: {
            offset: this.consoleBase + run[0]!.line,
            content: run.map(outputLogLine),
          },
        },
      });
      start = i;
    }
  }

  private async stream(body: FileStreamRequest): Promise<void> {
    await this.client.fileStream(this.entity, this.project, this.runId, body);
    this.lastRequestAt = Date.now();
  }
}
