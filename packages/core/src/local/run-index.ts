/**
 * A run read through its segments' read indexes (engine/segment-index.ts):
 * each segment's saved index, brought up to date by reading only the bytes
 * after it, then merged in segment order. What `LocalRuns.get`, `runs show`
 * and the viewer read: their cost does not grow with the number of points.
 * A chart's series comes from the envelopes, or, for a range with few points,
 * from just the journal blocks that hold them.
 */
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { DatasetInput, MetricPoint } from '../contract/types.js';
import { scanSegment } from '../engine/journal.js';
import { type DataRecord, decodeMetrics, type MetricsBlock } from '../engine/journal-records.js';
import type { RunDir } from '../engine/run-dir.js';
import {
  type EnvelopeBucket,
  type KeyIndex,
  mergeBuckets,
  mergeKeyIndexes,
  SegmentIndex,
  type SegmentIndexData,
} from '../engine/segment-index.js';
import { readSegmentIndex, saveSegmentIndex } from '../engine/segment-index-file.js';

/** What a run's points of one key add up to. */
export interface MetricSummary {
  key: string;
  /** Points logged. */
  count: number;
  /** Of them NaN or ±Infinity (not in min, max, mean). */
  nonFinite: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  first: { step: number; value: number; timestamp: number };
  /** At the highest step, the latest timestamp among those. */
  latest: { step: number; value: number; timestamp: number };
}

/**
 * A chart's point: one logged point (`exact`), or the points of a bucket of steps.
 * `time` and `timeEnd` place it on a wall-clock axis (or one relative to the run's
 * first point).
 */
export interface SeriesPoint {
  /** The bucket's first step (the point's step when exact). */
  step: number;
  /** The bucket's last step (the point's step when exact). */
  stepEnd: number;
  /** The earliest timestamp (ms since epoch) of the bucket's points (the point's timestamp when exact). */
  time: number;
  /** The latest timestamp (ms since epoch) of the bucket's points (the point's timestamp when exact). */
  timeEnd: number;
  /** Mean of the finite values (the value when exact); NaN when there is none. */
  value: number;
  min: number;
  max: number;
  count: number;
}

export interface SeriesOptions {
  /** Steps `[from, to]`; default all. */
  from?: number;
  to?: number;
  /** At most this many points; default 1000. */
  points?: number;
  /** Buckets over steps (default), or over the points in the order logged. */
  by?: 'step' | 'order';
}

export interface Series {
  key: string;
  /** Every point in the range, or buckets of steps when there were more than asked for. */
  exact: boolean;
  points: SeriesPoint[];
}

interface SegmentPart {
  segment: string;
  index: SegmentIndexData;
}

export class RunIndex {
  private constructor(
    private readonly dir: RunDir,
    readonly parts: readonly SegmentPart[],
  ) {}

  /**
   * Reads every segment's index and the journal bytes after it. With `save`
   * (the run has ended: no writer will add to its segments), an index that
   * moved on is saved, so the next read does not read those bytes again.
   */
  static async load(dir: RunDir, segments: readonly string[], save: boolean): Promise<RunIndex> {
    const parts: SegmentPart[] = [];
    for (const segment of segments) {
      const path = dir.segmentPath(segment);
      const saved = readSegmentIndex(dir.indexPath(segment), segment);
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        continue;
      }
      const index =
        saved !== undefined && (await stillThere(path, saved, size))
          ? SegmentIndex.fromJSON(saved)
          : new SegmentIndex(segment);
      if (index.indexedBytes < size) {
        await scanSegment(
          path,
          index.indexedBytes,
          (record, offset, length) => {
            if (record.t === 'h') index.skip(offset, length);
            else index.add(record as DataRecord, offset, length);
          },
          index.indexedLines + 1,
        );
      }
      const data = index.toJSON();
      if (save && (saved === undefined || saved.bytes !== data.bytes))
        saveSegmentIndex(dir.indexPath(segment), data);
      parts.push({ segment, index: data });
    }
    return new RunIndex(dir, parts);
  }

  get params(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const { index } of this.parts) for (const [k, v] of index.params) out[k] = v;
    return out;
  }

  /** The tags logged (later ones win), over `base` (the run's start tags). */
  tags(base: Record<string, string>): Record<string, string> {
    const out = { ...base };
    for (const { index } of this.parts) for (const [k, v] of index.tags) out[k] = v;
    return out;
  }

  get artifacts(): SegmentIndexData['artifacts'] {
    const byPath = new Map<string, SegmentIndexData['artifacts'][number]>();
    for (const { index } of this.parts) for (const a of index.artifacts) byPath.set(a.path, a);
    return [...byPath.values()];
  }

  /** Inputs in the order logged; the same (name, digest, context) once. */
  get inputs(): DatasetInput[] {
    const seen = new Set<string>();
    const out: DatasetInput[] = [];
    for (const { index } of this.parts) {
      for (const input of index.inputs) {
        const id = JSON.stringify([input.name, input.digest, input.context]);
        if (seen.has(id)) continue;
        seen.add(id);
        out.push(input);
      }
    }
    return out;
  }

  get media(): SegmentIndexData['media'] {
    return this.parts.flatMap(({ index }) => index.media);
  }

  /** The end records of every segment, in order. */
  get ends(): SegmentIndexData['ends'] {
    return this.parts.flatMap(({ index }) => index.ends);
  }

  get segments(): string[] {
    return this.parts.map((p) => p.segment);
  }

  /** Each key's parts, in segment order. */
  private keyParts(): Map<string, { segment: string; key: KeyIndex }[]> {
    const out = new Map<string, { segment: string; key: KeyIndex }[]>();
    for (const { segment, index } of this.parts) {
      for (const [name, key] of Object.entries(index.keys)) {
        const list = out.get(name) ?? [];
        list.push({ segment, key });
        out.set(name, list);
      }
    }
    return out;
  }

  /** Every key's summary, by key. */
  summaries(): Record<string, MetricSummary> {
    const out: Record<string, MetricSummary> = {};
    for (const [name, parts] of this.keyParts()) {
      const merged = mergeKeyIndexes(parts.map((p) => p.key));
      const finite = merged.n - merged.bad;
      out[name] = {
        key: name,
        count: merged.n,
        nonFinite: merged.bad,
        min: merged.min,
        max: merged.max,
        mean: finite > 0 ? merged.sum / finite : null,
        first: pointOf(merged.first),
        latest: pointOf(merged.latest),
      };
    }
    return out;
  }

  /**
   * A key's series over steps `[from, to]` in at most `points` points: every
   * point when the range holds no more (read from the journal blocks that
   * have them), else the envelope's buckets, merged down to `points`.
   */
  async series(key: string, options: SeriesOptions = {}): Promise<Series> {
    const from = options.from ?? Number.NEGATIVE_INFINITY;
    const to = options.to ?? Number.POSITIVE_INFINITY;
    const want = Math.max(1, Math.floor(options.points ?? 1000));
    const parts = this.keyParts().get(key) ?? [];
    if (parts.length === 0) return { key, exact: true, points: [] };
    const merged = mergeKeyIndexes(parts.map((p) => p.key));
    const envelope = options.by === 'order' ? merged.order : merged.steps;
    const inRange = envelope.buckets.filter(([, b]) => b.s1 >= from && b.s0 <= to);
    const count = inRange.reduce((sum, [, b]) => sum + b.n, 0);
    if (count <= want) {
      const points = await this.exactPoints(key, parts, from, to);
      return {
        key,
        exact: true,
        points: points.map((p) => ({
          step: p.step,
          stepEnd: p.step,
          time: p.timestamp,
          timeEnd: p.timestamp,
          value: p.value,
          min: p.value,
          max: p.value,
          count: 1,
        })),
      };
    }
    // Buckets, merged in runs so that at most `want` remain (mergeBuckets makes a new bucket:
    // the index's are not changed). A merged bucket spans its parts' steps and times.
    const per = Math.ceil(inRange.length / want);
    const out: SeriesPoint[] = [];
    for (let i = 0; i < inRange.length; i += per) {
      let bucket: EnvelopeBucket = inRange[i]![1];
      for (let j = i + 1; j < Math.min(i + per, inRange.length); j++)
        bucket = mergeBuckets(bucket, inRange[j]![1]);
      const finite = bucket.n - bucket.bad;
      out.push({
        step: bucket.s0,
        stepEnd: bucket.s1,
        time: bucket.t0,
        timeEnd: bucket.t1,
        value: finite > 0 ? bucket.sum / finite : Number.NaN,
        min: bucket.min,
        max: bucket.max,
        count: bucket.n,
      });
    }
    return { key, exact: false, points: out };
  }

  /** The key's points in `[from, to]`, in logging order, read from the blocks that hold them. */
  private async exactPoints(
    key: string,
    parts: { segment: string; key: KeyIndex }[],
    from: number,
    to: number,
  ): Promise<MetricPoint[]> {
    const out: MetricPoint[] = [];
    for (const { segment, key: k } of parts) {
      const index = this.parts.find((p) => p.segment === segment)!.index;
      const blocks = k.blocks
        .map((i) => index.blocks[i]!)
        .filter((b) => b[4] >= from && b[3] <= to);
      if (blocks.length === 0) continue;
      const handle = await open(this.dir.segmentPath(segment), 'r');
      try {
        for (const [offset, length] of blocks) {
          const buffer = Buffer.allocUnsafe(length);
          await handle.read(buffer, 0, length, offset);
          const record = JSON.parse(buffer.toString('utf8')) as { m: MetricsBlock };
          const { keys, k: ks, v, s, ts } = decodeMetrics(record.m);
          const local = keys.indexOf(key);
          for (let i = 0; i < record.m.n; i++) {
            if (ks[i] !== local) continue;
            const step = s[i]!;
            if (step < from || step > to) continue;
            out.push({ key, value: v[i]!, step, timestamp: ts[i]! });
          }
        }
      } finally {
        await handle.close();
      }
    }
    return out;
  }
}

/**
 * Whether the segment still has what the index covers: its last indexed line
 * where the index says, ending where the index ends, the record it names. A
 * journal that was edited or replaced since is read again from its start.
 */
async function stillThere(path: string, saved: SegmentIndexData, size: number): Promise<boolean> {
  if (saved.bytes > size || saved.lastOffset >= saved.bytes) return false;
  const length = saved.bytes - saved.lastOffset;
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await handle.read(buffer, 0, length, saved.lastOffset);
    if (bytesRead !== length || buffer[length - 1] !== 10) return false;
    if (saved.lastOffset > 0) {
      const before = Buffer.allocUnsafe(1);
      await handle.read(before, 0, 1, saved.lastOffset - 1);
      if (before[0] !== 10) return false;
    }
    const record = JSON.parse(buffer.toString('utf8', 0, length - 1)) as { t: string; q?: number };
    return record.t === 'h' ? saved.q === 0 : record.q === saved.q;
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

function pointOf([step, value, timestamp]: [number, number, number]) {
  return { step, value, timestamp };
}
