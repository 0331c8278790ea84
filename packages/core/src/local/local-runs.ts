/**
 * Reads runs back from the store: the local flavor's "backend" is the journal
 * itself. Every run, whatever its destinations, can be read here.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TrackstackError } from '../contract/errors.js';
import { consoleLogger, type Logger } from '../contract/log.js';
import type {
  ConsoleLine,
  DatasetInput,
  Media,
  MetricPoint,
  RunSource,
  RunStatus,
} from '../contract/types.js';
import { JournalReader } from '../engine/journal.js';
import { consoleLineOf, decodeMetrics, type MediaRecord } from '../engine/journal-records.js';
import { deliveredMedia, type LocalMedia, localMediaOf } from '../engine/media.js';
import { type DeliveryState, RunDir, type RunMeta } from '../engine/run-dir.js';

export type { LocalMedia } from '../engine/media.js';

import { resolveStoreDir } from '../store/store-dir.js';
import { type MetricSummary, RunIndex, type Series, type SeriesOptions } from './run-index.js';

export interface LocalArtifact {
  path: string;
  size: number;
  sha256: string;
  contentType: string;
  /** Absolute path of the staged copy. */
  file: string;
}

export interface RunSummary {
  uid: string;
  experiment: string;
  name: string;
  status: RunStatus;
  startTime: number;
  endTime: number | undefined;
  parentUid: string | undefined;
  destinations: string[];
  dir: string;
}

export interface RunSnapshot extends RunSummary {
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Latest value of each metric (by step, then timestamp, then log order). */
  metrics: Record<string, number>;
  artifacts: LocalArtifact[];
  /** Where the run ran (absent when capture was off, and for runs of earlier versions). */
  source?: RunSource | undefined;
  /** The datasets the run read (`logInput`), in the order logged; the same one logged again once. */
  inputs: DatasetInput[];
  /** Images, tables and histograms, in logging order. */
  media: LocalMedia[];
}

/** How far a run reached one of its destinations (a tracker it was started for or synced to). */
export interface RunDelivery {
  destination: string;
  /** The backend's run id and page, once the backend made the run. */
  runId?: string | undefined;
  url?: string | undefined;
  /** Journal records the destination has not acknowledged (or refused) yet. */
  pending: number;
  /** The final status the backend acknowledged. */
  finished?: RunStatus | undefined;
}

/** A run read once through its read indexes (`LocalRuns.view`). */
export interface RunView {
  snapshot: RunSnapshot;
  summaries: Record<string, MetricSummary>;
  /** Per destination, in the order of `snapshot.destinations`. */
  deliveries: RunDelivery[];
  /** As `LocalRuns.series`, from the same read. */
  series(key: string, options?: SeriesOptions): Promise<Series>;
}

interface RunContents {
  snapshot: RunSnapshot;
  /** The media records, in logging order. */
  media: MediaRecord[];
  history: Map<string, MetricPoint[]>;
  console: Map<number, ConsoleLine>;
}

/** Runs whose read index a LocalRuns keeps in memory (the most recently read ones). */
const INDEX_CACHE_RUNS = 32;

export class LocalRuns {
  readonly storeDir: string;
  private readonly logger: Logger;
  private readonly indexes = new Map<string, { signature: string; index: RunIndex }>();

  constructor(storeDir: string = resolveStoreDir(), logger: Logger = consoleLogger) {
    this.storeDir = storeDir;
    this.logger = logger;
  }

  /** All runs in the store, newest first. */
  async list(filter: { experiment?: string } = {}): Promise<RunSummary[]> {
    let uids: string[];
    try {
      uids = await readdir(join(this.storeDir, 'runs'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const out: RunSummary[] = [];
    for (const uid of uids) {
      let meta: RunMeta;
      try {
        meta = new RunDir(this.storeDir, uid).readMeta();
      } catch (error) {
        if (TrackstackError.isInstance(error) && error.code === 'RUN_NOT_FOUND') continue;
        // One damaged run must not hide the others; say which one, and go on.
        if (TrackstackError.isInstance(error)) {
          this.logger.warn(`skipped run ${uid}: ${error.message}`);
          continue;
        }
        throw error;
      }
      if (filter.experiment !== undefined && meta.experiment !== filter.experiment) continue;
      out.push(summary(meta, new RunDir(this.storeDir, uid).path));
    }
    return out.sort((a, b) => b.startTime - a.startTime || (a.uid < b.uid ? 1 : -1));
  }

  /** A run's snapshot and every metric's history, from one read of its journal. */
  async load(
    uid: string,
  ): Promise<{ snapshot: RunSnapshot; histories: Record<string, MetricPoint[]> }> {
    const { snapshot, history } = await this.read(uid);
    return { snapshot, histories: Object.fromEntries(history) };
  }

  /**
   * A run's params, tags, latest metrics, artifacts, inputs, media and status,
   * from its segments' read indexes: the cost does not grow with its points.
   */
  async get(uid: string): Promise<RunSnapshot> {
    return (await this.view(uid)).snapshot;
  }

  /**
   * One read of the run's read indexes for several questions (what a page
   * or `runs show` asks): the snapshot, each metric's summary, and series.
   */
  async view(uid: string): Promise<RunView> {
    const { dir, meta, index } = await this.index(uid);
    const summaries = index.summaries();
    return {
      snapshot: snapshotOf(dir, meta, index, summaries),
      summaries,
      deliveries: await deliveriesOf(dir, meta, index),
      series: (key, options = {}) => index.series(key, options),
    };
  }

  /** How far the run reached each of its destinations: pending records, the backend's run page. */
  async deliveries(uid: string): Promise<RunDelivery[]> {
    const { dir, meta, index } = await this.index(uid);
    return deliveriesOf(dir, meta, index);
  }

  /** Each metric's count, min, max, mean, first and latest point, from the read indexes. */
  async summaries(uid: string): Promise<Record<string, MetricSummary>> {
    return (await this.index(uid)).index.summaries();
  }

  /**
   * One metric's series for a chart: over steps `[from, to]` (default all),
   * at most `points` points (default 1000): every point when the range holds
   * no more (`exact`), else buckets of steps with their mean, min and max.
   */
  async series(uid: string, key: string, options: SeriesOptions = {}): Promise<Series> {
    return (await this.index(uid)).index.series(key, options);
  }

  private async index(uid: string): Promise<{ dir: RunDir; meta: RunMeta; index: RunIndex }> {
    const dir = new RunDir(this.storeDir, uid);
    const meta = dir.readMeta();
    const segments = await dir.listSegments();
    // The same run again (a page asking for each chart's series): its index as read last
    // time, while no segment changed size or time and run.json was not written since.
    const signature = await runSignature(dir, segments);
    const cached = this.indexes.get(uid);
    if (cached !== undefined && cached.signature === signature) {
      this.indexes.delete(uid);
      this.indexes.set(uid, cached);
      return { dir, meta, index: cached.index };
    }
    const index = await RunIndex.load(dir, segments, meta.status !== 'RUNNING');
    this.indexes.delete(uid);
    this.indexes.set(uid, { signature, index });
    if (this.indexes.size > INDEX_CACHE_RUNS)
      this.indexes.delete(this.indexes.keys().next().value!);
    return { dir, meta, index };
  }

  /** Every point of one metric, in the order it was logged. */
  async metricHistory(uid: string, key: string): Promise<MetricPoint[]> {
    return (await this.read(uid)).history.get(key) ?? [];
  }

  /**
   * Every metric point of the run in the order logged, a journal record's
   * points at a time, read as it goes (for exports of any size).
   */
  async *metricBlocks(uid: string): AsyncGenerator<MetricPoint[]> {
    const dir = new RunDir(this.storeDir, uid);
    dir.readMeta();
    for (const segment of await dir.listSegments()) {
      const reader = new JournalReader(dir.segmentPath(segment));
      for (;;) {
        const records = await reader.read();
        if (records.length === 0) break;
        for (const record of records) {
          if (record.t !== 'b' || record.m === undefined) continue;
          const { keys, k, v, s, ts } = decodeMetrics(record.m);
          const points: MetricPoint[] = new Array(record.m.n);
          for (let i = 0; i < record.m.n; i++) {
            points[i] = { key: keys[k[i]!]!, value: v[i]!, step: s[i]!, timestamp: ts[i]! };
          }
          yield points;
        }
      }
    }
  }

  /** Every metric's history. */
  async metricHistories(uid: string): Promise<Record<string, MetricPoint[]>> {
    return Object.fromEntries((await this.read(uid)).history);
  }

  /** The run's media with tables read, in logging order (only `key`'s when given). */
  async media(uid: string, key?: string): Promise<Media[]> {
    const { media } = await this.read(uid);
    const dir = new RunDir(this.storeDir, uid).path;
    const out: Media[] = [];
    for (const record of media) {
      if (key === undefined || record.key === key) out.push(await deliveredMedia(record, dir));
    }
    return out;
  }

  /** The run's console output (`logConsole`, `captureConsole`), one entry per line, in order. */
  async consoleOutput(uid: string): Promise<ConsoleLine[]> {
    const lines = (await this.read(uid)).console;
    return [...lines.values()].sort((a, b) => a.line - b.line);
  }

  /** The console output as text, like W&B's output.log without its timestamps. */
  async consoleText(uid: string): Promise<string> {
    return (await this.consoleOutput(uid)).map((line) => `${line.text}\n`).join('');
  }

  private async read(uid: string): Promise<RunContents> {
    const dir = new RunDir(this.storeDir, uid);
    const meta = dir.readMeta();
    const params: Record<string, string> = {};
    const tags: Record<string, string> = { ...meta.tags };
    const artifacts = new Map<string, LocalArtifact>();
    const inputs: DatasetInput[] = [];
    const inputIds = new Set<string>();
    const media: MediaRecord[] = [];
    const history = new Map<string, MetricPoint[]>();
    const console = new Map<number, ConsoleLine>();
    let status: RunStatus = meta.status;
    let endTime = meta.endTime;
    const segments = await dir.listSegments();
    for (const segment of segments) {
      for (const record of await new JournalReader(dir.segmentPath(segment)).readAll()) {
        switch (record.t) {
          case 'b':
            for (const [key, value] of record.p ?? []) params[key] = value;
            for (const [key, value] of record.g ?? []) tags[key] = value;
            if (record.m !== undefined) {
              const { keys, k, v, s, ts } = decodeMetrics(record.m);
              for (let i = 0; i < record.m.n; i++) {
                const key = keys[k[i]!]!;
                let points = history.get(key);
                if (points === undefined) {
                  points = [];
                  history.set(key, points);
                }
                points.push({ key, value: v[i]!, step: s[i]!, timestamp: ts[i]! });
              }
            }
            for (const entry of record.o ?? []) console.set(entry[0], consoleLineOf(entry));
            break;
          case 'a':
            artifacts.set(record.path, {
              path: record.path,
              size: record.size,
              sha256: record.sha256,
              contentType: record.ct,
              file: join(dir.path, record.file),
            });
            break;
          case 'i': {
            const { name, digest, context } = record.input;
            const id = JSON.stringify([name, digest, context]);
            if (!inputIds.has(id)) {
              inputIds.add(id);
              inputs.push(record.input);
            }
            break;
          }
          case 'm':
            media.push(record);
            break;
          case 'e':
            if (RunDir.endSuperseded(record.time, segments)) break;
            status = record.status;
            endTime = record.time;
            break;
        }
      }
    }
    const metrics: Record<string, number> = {};
    for (const [key, points] of history) metrics[key] = latest(points).value;
    return {
      snapshot: {
        ...summary({ ...meta, status, endTime }, dir.path),
        params,
        tags,
        metrics,
        artifacts: [...artifacts.values()].sort((a, b) => (a.path < b.path ? -1 : 1)),
        inputs,
        media: media.map((record) => localMediaOf(record, dir.path)),
        ...(meta.source === undefined ? {} : { source: meta.source }),
      },
      history,
      console,
      media,
    };
  }
}

/** The snapshot of a run from its read indexes: ends applied in segment order, latest metrics. */
function snapshotOf(
  dir: RunDir,
  meta: RunMeta,
  index: RunIndex,
  summaries: Record<string, MetricSummary>,
): RunSnapshot {
  let status: RunStatus = meta.status;
  let endTime = meta.endTime;
  for (const end of index.ends) {
    if (RunDir.endSuperseded(end.time, index.segments)) continue;
    status = end.status;
    endTime = end.time;
  }
  const metrics: Record<string, number> = {};
  for (const [key, s] of Object.entries(summaries)) metrics[key] = s.latest.value;
  return {
    ...summary({ ...meta, status, endTime }, dir.path),
    params: index.params,
    tags: index.tags(meta.tags),
    metrics,
    artifacts: index.artifacts
      .map((a) => ({
        path: a.path,
        size: a.size,
        sha256: a.sha256,
        contentType: a.ct,
        file: join(dir.path, a.file),
      }))
      .sort((a, b) => (a.path < b.path ? -1 : 1)),
    inputs: index.inputs,
    media: index.media.map((record) => localMediaOf(record, dir.path)),
    ...(meta.source === undefined ? {} : { source: meta.source }),
  };
}

function summary(meta: RunMeta, dir: string): RunSummary {
  return {
    uid: meta.uid,
    experiment: meta.experiment,
    name: meta.name,
    status: meta.status,
    startTime: meta.startTime,
    endTime: meta.endTime,
    parentUid: meta.parentUid,
    destinations: meta.destinations,
    dir,
  };
}

function latest(points: MetricPoint[]): MetricPoint {
  let best = points[0]!;
  for (const point of points) {
    if (point.step > best.step || (point.step === best.step && point.timestamp >= best.timestamp)) {
      best = point;
    }
  }
  return best;
}

/**
 * Each destination's delivery: its cursors against the segments' last records (a cursor
 * covers every record up to its `q`; a segment's records are numbered from its header, 0).
 */
async function deliveriesOf(dir: RunDir, meta: RunMeta, index: RunIndex): Promise<RunDelivery[]> {
  const out: RunDelivery[] = [];
  for (const destination of meta.destinations) {
    const state = await dir.readDeliveryState(destination).catch(() => ({}) as DeliveryState);
    let pending = 0;
    for (const part of index.parts) {
      const cursor = await dir.readCursor(destination, part.segment).catch(() => ({ q: 0 }));
      pending += Math.max(0, part.index.q - cursor.q);
    }
    out.push({
      destination,
      runId: state.ref?.runId,
      url: state.ref?.url,
      pending,
      finished: state.finished,
    });
  }
  return out;
}

/** What a run's read index depends on: run.json's and each segment's size and change time. */
async function runSignature(dir: RunDir, segments: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const path of [dir.metaPath, ...segments.map((s) => dir.segmentPath(s))]) {
    try {
      const { size, mtimeMs, ctimeMs } = await stat(path);
      parts.push(`${size}:${mtimeMs}:${ctimeMs}`);
    } catch {
      parts.push('-');
    }
  }
  return `${segments.join(',')}|${parts.join(',')}`;
}
