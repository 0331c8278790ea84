/**
 * The W&B flavor: trackstack's primitives on W&B's service API (online) or
 * W&B's own offline run directories (offline, for `wandb sync`). Params are
 * config, metrics are history rows keyed by step, tags are run tags.
 */
import { createReadStream } from 'node:fs';
import { access, constants, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import {
  type ArtifactUpload,
  BaseExperimentTracker,
  type ConsoleLine,
  DEFAULT_LIMITS,
  defineFlavor,
  type FinalRunStatus,
  type FlavorCapabilities,
  type FlavorLimits,
  type RunInit,
  type RunRef,
  type StartRunOptions,
  type StepRunInfo,
  type WriteBatch,
} from '@trackstack/core';
import { type FileStreamRequest, type ResumeStatus, WandbClient } from './wandb-client.js';
import {
  type ResolvedWandbConfig,
  resolveWandbConfig,
  type WandbConfig,
  wandbConfigSchema,
  wandbRunIdProblem,
} from './wandb-config.js';
import { OUTPUT_LOG, outputLogLine, rawConsoleText } from './wandb-console.js';
import { WandbError } from './wandb-error.js';
import { type HistoryRow, historyRows, jsonWithNonFinite } from './wandb-history.js';
import { WandbOfflineRun, writeHistoryPoints } from './wandb-offline-run.js';
import { checkResume, resumedRunState } from './wandb-resume.js';
import { paramValue, runTags, stepRunWandbId, wandbConfig } from './wandb-run-config.js';

/** Exit codes W&B reads a run's final state from (ZenML finishes a failed step with 1). */
const EXIT_CODES: Record<FinalRunStatus, number> = { FINISHED: 0, FAILED: 1, KILLED: 255 };
/** W&B's own client sends an empty file_stream request after this much silence. */
const DEFAULT_HEARTBEAT_S = 30;

interface RunState {
  entity: string;
  project: string;
  runId: string;
  /** The trackstack run's uid, kept in `_wandb.trackstack_uid` of the W&B config. */
  uid: string;
  /** Line of output.log where console line 0 goes (lines a W&B run had before trackstack wrote to it). */
  consoleBase: number;
  /** Offline: the console line each stream's terminal is on (its newline not written yet). */
  consoleOpen: { stdout: number | undefined; stderr: number | undefined };
  startTime: number;
  /** Params as W&B config values. */
  config: Record<string, unknown>;
  tags: string[];
  summary: Record<string, unknown>;
  /** Lines of wandb-history.jsonl the service holds. */
  historyLines: number;
  /** The last row sent: a batch that continues its step rewrites it at its offset. */
  lastRow: HistoryRow | undefined;
  lastRequestAt: number;
  heartbeat: NodeJS.Timeout | undefined;
  offline: WandbOfflineRun | undefined;
}

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
  private readonly states = new Map<string, RunState>();
  /** W&B runs this tracker upserted: a create retried after a lost answer finds its own run. */
  private readonly created = new Set<string>();

  /** The config with W&B's environment variables applied; read on first use, not at import. */
  get settings(): ResolvedWandbConfig {
    this.resolved ??= resolveWandbConfig(this.config);
    return this.resolved;
  }

  get client(): WandbClient {
    this.wandbClient ??= new WandbClient(this.settings);
    return this.wandbClient;
  }

  override get limits(): FlavorLimits {
    if (this.config.mode === 'offline') {
      // One fsync of the .wandb file per batch; a batch's points stay journal columns until written.
      return {
        ...DEFAULT_LIMITS,
        maxMetricsPerBatch: 200_000,
        maxParamsPerBatch: 10_000,
        maxTagsPerBatch: 1_000,
        maxEntitiesPerBatch: 200_000,
        maxBatchBytes: 64_000_000,
      };
    }
    // W&B has no per-request entity limits; a file_stream request stays well under its ~10 MiB cap.
    return {
      ...DEFAULT_LIMITS,
      maxMetricsPerBatch: 20_000,
      maxParamsPerBatch: 10_000,
      maxTagsPerBatch: 1_000,
      maxEntitiesPerBatch: 20_000,
      maxBatchBytes: 8_000_000,
    };
  }

  override get capabilities(): FlavorCapabilities {
    return {
      // History rows must arrive in step order; one request at a time, paced like W&B's client.
      orderedWrites: true,
      maxConcurrency: 1,
      nestedRuns: false,
      artifacts: true,
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
    const group = this.config.group ?? init.tags['zenml.pipeline_run'];
    const runId = this.wandbRunId(init);
    const state = this.newState(
      this.settings.entity ?? '',
      project,
      runId,
      init.uid,
      init.startTime,
      tags,
    );
    if (this.settings.mode === 'offline') {
      if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
        throw new WandbError(`W&B offline run ids name directories: ${JSON.stringify(runId)}`, {
          retryable: false,
          hint: 'offline runs need ids of letters, digits, _ and -',
        });
      }
      const offline = WandbOfflineRun.create({
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
      });
      state.offline = offline;
      this.states.set(runId, state);
      return {
        runId,
        url: `file://${offline.runDir}`,
        data: { project, startTime: init.startTime, offline: true, uid: init.uid },
      };
    }
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
        restoreState(state, existing);
        // No console line of this run was sent before its ref existed: what W&B has came before.
        state.consoleBase = existing.logLineCount ?? 0;
        state.tags = [...new Set([...state.tags, ...tags])];
      }
    }
    this.created.add(`${project}/${runId}`);
    const bucket = await this.client.upsertBucket({
      name: runId,
      project,
      entity: this.settings.entity ?? null,
      displayName: this.config.run_name ?? init.name,
      groupName: group ?? null,
      jobType: this.config.job_type ?? null,
      notes: this.config.notes ?? null,
      tags: state.tags,
      config: JSON.stringify(wandbConfig(state.config, init.uid)),
      host: hostname(),
      program: process.argv[1] ?? null,
    });
    state.entity = bucket.project.entity.name;
    state.historyLines = bucket.historyLineCount ?? state.historyLines;
    this.states.set(runId, state);
    this.startHeartbeat(state);
    return this.ref(state);
  }

  override async resumeRun(ref: RunRef): Promise<RunRef> {
    const known = this.states.get(ref.runId);
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
    const startTime = typeof data.startTime === 'number' ? data.startTime : Date.now();
    const uid = typeof data.uid === 'string' ? data.uid : ref.runId;
    const state = this.newState(entity ?? '', project, ref.runId, uid, startTime, []);
    restoreState(state, status);
    if (typeof data.consoleBase === 'number') state.consoleBase = data.consoleBase;
    this.states.set(ref.runId, state);
    this.startHeartbeat(state);
    return ref;
  }

  async writeBatch(ref: RunRef, batch: WriteBatch): Promise<void> {
    const state = await this.state(ref);
    const configUpdate: Record<string, unknown> = {};
    for (const { key, value } of batch.params) configUpdate[key] = paramValue(value);
    const tagsBefore = state.tags.length;
    for (const tag of runTags(Object.fromEntries(batch.tags.map((t) => [t.key, t.value])))) {
      const name = tag.slice(0, tag.indexOf(':') + 1);
      state.tags = state.tags.filter((t) => !(name !== '' && t.startsWith(name)));
      state.tags.push(tag);
    }
    if (state.offline !== undefined) {
      if (batch.params.length > 0) state.offline.config(configUpdate);
      writeHistoryPoints(state.offline, batch);
      writeOfflineConsole(state, batch.console ?? []);
      state.offline.flush();
      return;
    }
    const rows = historyRows(batch.metrics);
    if (batch.params.length > 0 || batch.tags.length > 0 || state.tags.length !== tagsBefore) {
      Object.assign(state.config, configUpdate);
      // Config updates resend the whole config, as W&B's client does.
      await this.client.upsertBucket({
        name: state.runId,
        project: state.project,
        entity: state.entity,
        config: JSON.stringify(wandbConfig(state.config, state.uid)),
        ...(batch.tags.length > 0 ? { tags: state.tags } : {}),
      });
    }
    if (rows.length > 0) await this.sendHistory(state, rows);
    if (batch.console !== undefined && batch.console.length > 0) {
      await this.sendConsole(state, batch.console);
    }
  }

  async uploadArtifact(ref: RunRef, artifact: ArtifactUpload): Promise<void> {
    const state = await this.state(ref);
    if (state.offline !== undefined) {
      state.offline.file(artifact.path, artifact.localPath);
      return;
    }
    const { uploadHeaders, files } = await this.client.createRunFiles(
      state.entity,
      state.project,
      state.runId,
      [artifact.path],
    );
    const target = files.find((file) => file.name === artifact.path);
    if (target === undefined)
      throw new WandbError(`CreateRunFiles gave no upload URL for ${artifact.path}`, {
        retryable: true,
      });
    await this.client.upload(
      target.uploadUrl,
      uploadHeaders,
      createReadStream(artifact.localPath),
      artifact.size,
    );
    await this.stream(state, { uploaded: [artifact.path] });
  }

  async finishRun(ref: RunRef, status: FinalRunStatus, endTime: number): Promise<void> {
    const state = await this.state(ref);
    const exitcode = EXIT_CODES[status];
    if (state.offline !== undefined) {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (state.consoleOpen[stream] !== undefined) state.offline.output(stream, '\n', endTime);
      }
      state.offline.exit(exitcode, endTime);
      state.offline.close();
    } else {
      const runtime = Math.max(0, (endTime - state.startTime) / 1000);
      state.summary._runtime = runtime;
      state.summary._wandb = { runtime: Math.floor(runtime) };
      await this.stream(state, {
        files: { 'wandb-summary.json': summaryFile(state) },
        complete: true,
        exitcode,
      });
    }
    this.forget(state);
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
  protected override stepRunOptions(info: StepRunInfo): StartRunOptions {
    const options = super.stepRunOptions(info);
    const name = info.settings?.run_name;
    return typeof name === 'string' && name !== '' ? { ...options, name } : options;
  }

  private ref(state: RunState): RunRef {
    return {
      runId: state.runId,
      url: this.runUrl(state.entity, state.project, state.runId),
      data: {
        entity: state.entity,
        project: state.project,
        startTime: state.startTime,
        uid: state.uid,
        consoleBase: state.consoleBase,
      },
    };
  }

  private newState(
    entity: string,
    project: string,
    runId: string,
    uid: string,
    startTime: number,
    tags: string[],
  ): RunState {
    return {
      entity,
      project,
      runId,
      uid,
      consoleBase: 0,
      consoleOpen: { stdout: undefined, stderr: undefined },
      startTime,
      config: {},
      tags,
      summary: {},
      historyLines: 0,
      lastRow: undefined,
      lastRequestAt: Date.now(),
      heartbeat: undefined,
      offline: undefined,
    };
  }

  private async state(ref: RunRef): Promise<RunState> {
    const known = this.states.get(ref.runId);
    if (known !== undefined) return known;
    await this.resumeRun(ref);
    return this.states.get(ref.runId)!;
  }

  /**
   * Appends rows to wandb-history.jsonl. A first row at the step of the last
   * row sent is merged into it and rewritten at its offset (W&B replaces lines
   * from the offset on), so a step split across two batches stays one row.
   * Rows below the last step were sent already (a replay) or would be dropped
   * by W&B: they are left out.
   */
  private async sendHistory(state: RunState, rows: HistoryRow[]): Promise<void> {
    const last = state.lastRow;
    let offset = state.historyLines;
    const lines: HistoryRow[] = [];
    for (const row of rows) {
      if (last !== undefined && row.step < last.step) continue;
      if (last !== undefined && row.step === last.step && lines.length === 0) {
        offset = state.historyLines - 1;
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
    const summary = { ...state.summary };
    for (const row of lines) {
      for (const [key, value] of row.values) summary[key] = value;
      Object.assign(summary, this.rowMeta(state, row));
    }
    const nextSummary = { ...summary };
    await this.stream(state, {
      files: {
        'wandb-history.jsonl': {
          offset,
          content: lines.map((row) => this.historyLine(state, row)),
        },
        'wandb-summary.json': { offset: 0, content: [jsonWithNonFinite(nextSummary)] },
      },
    });
    state.summary = nextSummary;
    state.historyLines = offset + lines.length;
    state.lastRow = lines[lines.length - 1];
  }

  private rowMeta(state: RunState, row: HistoryRow): Record<string, number> {
    return {
      _step: row.step,
      _runtime: Math.max(0, row.timestamp - state.startTime) / 1000,
      _timestamp: row.timestamp / 1000,
    };
  }

  private historyLine(state: RunState, row: HistoryRow): string {
    return jsonWithNonFinite({ ...Object.fromEntries(row.values), ...this.rowMeta(state, row) });
  }

  /**
   * Writes console lines into output.log at their own offsets (a line sent
   * again replaces itself, so replays are harmless). file_stream takes one
   * run of consecutive lines per file and request, as wandb-core splits them.
   */
  private async sendConsole(state: RunState, lines: readonly ConsoleLine[]): Promise<void> {
    let start = 0;
    for (let i = 1; i <= lines.length; i++) {
      if (i < lines.length && lines[i]!.line === lines[i - 1]!.line + 1) continue;
      const run = lines.slice(start, i);
      await this.stream(state, {
        files: {
          [OUTPUT_LOG]: {
            offset: state.consoleBase + run[0]!.line,
            content: run.map(outputLogLine),
          },
        },
      });
      start = i;
    }
  }

  private async stream(state: RunState, body: FileStreamRequest): Promise<void> {
    await this.client.fileStream(state.entity, state.project, state.runId, body);
    state.lastRequestAt = Date.now();
  }

  /**
   * W&B marks a run crashed when its client goes silent: after `interval` of
   * silence an idle run sends an empty request, as W&B's own client does.
   */
  private startHeartbeat(state: RunState): void {
    const interval = (this.config.heartbeat_interval_s ?? DEFAULT_HEARTBEAT_S) * 1000;
    const arm = () => {
      const wait = Math.max(0, state.lastRequestAt + interval - Date.now());
      state.heartbeat = setTimeout(beat, wait);
      state.heartbeat.unref();
    };
    const beat = () => {
      if (this.states.get(state.runId) !== state) return;
      if (Date.now() - state.lastRequestAt < interval) return arm();
      // Counted as a request even when it fails: the next one is an interval away.
      state.lastRequestAt = Date.now();
      this.stream(state, {})
        .catch(() => {
          // A failed heartbeat is retried by the next one.
        })
        .finally(arm);
    };
    arm();
  }

  private forget(state: RunState): void {
    if (state.heartbeat !== undefined) clearTimeout(state.heartbeat);
    this.states.delete(state.runId);
  }
}

/** Offline, console lines become the raw text the SDK would have captured (`rawConsoleText`). */
function writeOfflineConsole(state: RunState, lines: readonly ConsoleLine[]): void {
  const offline = state.offline;
  if (offline === undefined) return;
  for (const line of lines) {
    const text = rawConsoleText(state.consoleOpen[line.stream], line);
    state.consoleOpen[line.stream] = line.line;
    offline.output(line.stream, text, line.timestamp);
  }
}

function summaryFile(state: RunState) {
  return { offset: 0, content: [jsonWithNonFinite(state.summary)] };
}

function restoreState(state: RunState, status: ResumeStatus): void {
  const resumed = resumedRunState(status);
  state.historyLines = resumed.historyLines;
  if (resumed.tags !== undefined) state.tags = resumed.tags;
  state.summary = resumed.summary;
  Object.assign(state.config, resumed.config);
  if (resumed.lastRow !== undefined) state.lastRow = resumed.lastRow;
}
