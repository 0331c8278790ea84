/**
 * The read index of one journal segment: what a reader needs to show a run
 * without reading its points. Kept as the segment is written (the writer
 * feeds it every record) and saved beside the journal, so `runs show`, the
 * viewer and `LocalRuns.get` cost the same for a thousand points as for ten
 * million. A reader that finds the index behind the segment (a live run, a
 * crash, a run of an earlier version) reads only the bytes after it.
 *
 * Per metric key: count, non-finite count, min, max, sum, first and latest
 * point, an envelope of at most ENVELOPE_BUCKETS buckets over the steps (each
 * bucket: its steps, the smallest and largest timestamp, count, min, max, sum
 * of its points), and the journal blocks that hold the key's points (offset,
 * length, steps), so a zoomed chart reads only those. Besides: params, tags, artifacts, inputs, media and
 * end records, as the segment has them.
 */
import type { DatasetInput } from '../contract/types.js';
import type { MetricColumns } from '../contract/write-batch.js';
import {
  type ArtifactRecord,
  type DataRecord,
  decodeMetrics,
  type EndRecord,
  type MediaRecord,
} from './journal-records.js';

/**
 * The saved index's form. An index of another version is not read: the
 * journal is indexed again (2: buckets carry their points' timestamps).
 */
export const SEGMENT_INDEX_VERSION = 2;
/** Buckets of a key's envelope at most: about a chart's width in pixels / 2. */
export const ENVELOPE_BUCKETS = 512;

/** A point: step, value, timestamp (epoch ms). */
type IndexPoint = [step: number, value: number, timestamp: number];

/**
 * Points of a bucket of steps `[i × width, (i + 1) × width)`: min and max of finite values
 * (NaN when there is none; null in the saved file), their sum, and when they were logged.
 */
export interface EnvelopeBucket {
  /** First and last step with a point. */
  s0: number;
  s1: number;
  /** Smallest and largest timestamp (epoch ms) of its points. */
  t0: number;
  t1: number;
  /** Points, and how many of them are NaN or ±Infinity (not in min, max, sum). */
  n: number;
  bad: number;
  min: number;
  max: number;
  sum: number;
}

/** Buckets of equal width over an axis (steps, or the key's points in logging order). */
interface Envelope {
  /** Bucket width: a power of two. */
  width: number;
  /** Buckets by index (position / width, floored), in order when saved. */
  buckets: [index: number, bucket: EnvelopeBucket][];
}

export interface KeyIndex {
  n: number;
  bad: number;
  /** Over finite values; null when there is none. */
  min: number | null;
  max: number | null;
  sum: number;
  first: IndexPoint;
  /** The point at the highest step, the latest timestamp among those, the last logged among those. */
  latest: IndexPoint;
  /** Over steps. */
  steps: Envelope;
  /** Over the key's points in the order logged (for charts of points all logged at one step). */
  order: Envelope;
  /** Indices into `blocks` of the blocks with points of this key. */
  blocks: number[];
}

/** A journal line with metric points: byte offset, length, points, lowest and highest step. */
export type BlockRef = [offset: number, length: number, n: number, s0: number, s1: number];

export interface SegmentIndexData {
  v: number;
  segment: string;
  /** Bytes of the segment this index covers: a reader reads what follows. */
  bytes: number;
  /** Lines it covers, and where the last of them starts (a reader checks it is still there). */
  lines: number;
  lastOffset: number;
  /** The last record's `q`. */
  q: number;
  params: [string, string][];
  tags: [string, string][];
  artifacts: Omit<ArtifactRecord, 'q' | 't'>[];
  inputs: DatasetInput[];
  media: MediaRecord[];
  ends: Pick<EndRecord, 'status' | 'time'>[];
  consoleLines: number;
  keys: Record<string, KeyIndex>;
  blocks: BlockRef[];
}

interface LiveEnvelope {
  width: number;
  buckets: Map<number, EnvelopeBucket>;
  /** The bucket the last point went to (the next one mostly goes there too), and its positions. */
  lastIndex: number;
  last: EnvelopeBucket | undefined;
  lo: number;
  hi: number;
}

/** An empty envelope, every field set up front (one object shape on the logging path). */
function newEnvelope(width = 1, buckets = new Map<number, EnvelopeBucket>()): LiveEnvelope {
  return { width, buckets, lastIndex: -1, last: undefined, lo: 0, hi: 0 };
}

interface LiveKey extends Omit<KeyIndex, 'steps' | 'order' | 'latest' | 'min' | 'max'> {
  /** ±Infinity while there is no finite value (numbers only: no null on the logging path). */
  min: number;
  max: number;
  steps: LiveEnvelope;
  order: LiveEnvelope;
  /** The latest point as numbers (no array per point on the logging path). */
  latestStep: number;
  latestValue: number;
  latestTs: number;
}

export class SegmentIndex {
  readonly segment: string;
  private bytes = 0;
  private lines = 0;
  private lastOffset = 0;
  private q = 0;
  private readonly params = new Map<string, string>();
  private readonly tags = new Map<string, string>();
  private readonly artifacts = new Map<string, Omit<ArtifactRecord, 'q' | 't'>>();
  private readonly inputs: DatasetInput[] = [];
  private readonly media: MediaRecord[] = [];
  private readonly ends: Pick<EndRecord, 'status' | 'time'>[] = [];
  private consoleLines = 0;
  private readonly keys = new Map<string, LiveKey>();
  private readonly blocks: BlockRef[] = [];
  /** Changed since `toJSON` last ran. */
  changed = false;

  constructor(segment: string) {
    this.segment = segment;
  }

  static fromJSON(data: SegmentIndexData): SegmentIndex {
    const index = new SegmentIndex(data.segment);
    index.bytes = data.bytes;
    index.lines = data.lines;
    index.lastOffset = data.lastOffset;
    index.q = data.q;
    for (const [k, v] of data.params) index.params.set(k, v);
    for (const [k, v] of data.tags) index.tags.set(k, v);
    for (const a of data.artifacts) index.artifacts.set(a.path, a);
    index.inputs.push(...data.inputs);
    index.media.push(...data.media);
    index.ends.push(...data.ends);
    index.consoleLines = data.consoleLines;
    for (const [key, k] of Object.entries(data.keys)) {
      const { latest, min, max, ...rest } = k;
      index.keys.set(key, {
        ...rest,
        min: min ?? Number.POSITIVE_INFINITY,
        max: max ?? Number.NEGATIVE_INFINITY,
        latestStep: latest[0],
        latestValue: latest[1],
        latestTs: latest[2],
        steps: liveEnvelope(k.steps),
        order: liveEnvelope(k.order),
      });
    }
    index.blocks.push(...data.blocks);
    return index;
  }

  /** The bytes of the segment indexed so far. */
  get indexedBytes(): number {
    return this.bytes;
  }

  /** The lines of the segment indexed so far. */
  get indexedLines(): number {
    return this.lines;
  }

  /**
   * Takes one record at `[offset, offset + length)` of the segment. `columns`
   * are its metric block's decoded columns, when the caller has them.
   */
  add(record: DataRecord, offset: number, length: number, columns?: MetricColumns): void {
    this.moved(offset, length);
    this.q = record.q;
    switch (record.t) {
      case 'b':
        for (const [key, value] of record.p ?? []) this.params.set(key, value);
        for (const [key, value] of record.g ?? []) this.tags.set(key, value);
        if (record.o !== undefined) {
          for (const entry of record.o)
            this.consoleLines = Math.max(this.consoleLines, entry[0] + 1);
        }
        if (record.m !== undefined)
          this.addPoints(columns ?? decodeMetrics(record.m), record.m.n, offset, length);
        return;
      case 'a': {
        const { t: _t, q: _q, ...artifact } = record;
        this.artifacts.set(record.path, artifact);
        return;
      }
      case 'i':
        this.inputs.push(record.input);
        return;
      case 'm':
        this.media.push(record);
        return;
      case 'e':
        this.ends.push({ status: record.status, time: record.time });
        return;
    }
  }

  /** Takes a line that is not a data record (the header): only the bytes move on. */
  skip(offset: number, length: number): void {
    this.moved(offset, length);
  }

  private moved(offset: number, length: number): void {
    this.changed = true;
    this.bytes = offset + length;
    this.lines += 1;
    this.lastOffset = offset;
  }

  private addPoints(columns: MetricColumns, n: number, offset: number, length: number): void {
    const { keys, k, v, s, ts } = columns;
    let s0 = Number.POSITIVE_INFINITY;
    let s1 = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const step = s[i]!;
      if (step < s0) s0 = step;
      if (step > s1) s1 = step;
    }
    const block = this.blocks.length;
    this.blocks.push([offset, length, n, s0, s1]);
    const live: (LiveKey | undefined)[] = keys.map(() => undefined);
    for (let i = 0; i < n; i++) {
      const local = k[i]!;
      let key = live[local];
      if (key === undefined) {
        const name = keys[local]!;
        key = this.keys.get(name);
        if (key === undefined) {
          key = {
            n: 0,
            bad: 0,
            min: Number.POSITIVE_INFINITY,
            max: Number.NEGATIVE_INFINITY,
            sum: 0,
            first: [s[i]!, v[i]!, ts[i]!],
            latestStep: s[i]!,
            latestValue: v[i]!,
            latestTs: ts[i]!,
            steps: newEnvelope(),
            order: newEnvelope(),
            blocks: [],
          };
          this.keys.set(name, key);
        }
        key.blocks.push(block);
        live[local] = key;
      }
      addPoint(key, s[i]!, v[i]!, ts[i]!);
    }
  }

  toJSON(): SegmentIndexData {
    this.changed = false;
    const keys: Record<string, KeyIndex> = {};
    for (const [name, key] of this.keys) {
      const { latestStep, latestValue, latestTs, min, max, ...rest } = key;
      const finite = key.n > key.bad;
      keys[name] = {
        ...rest,
        min: finite ? min : null,
        max: finite ? max : null,
        latest: [latestStep, latestValue, latestTs],
        steps: savedEnvelope(key.steps),
        order: savedEnvelope(key.order),
      };
    }
    return {
      v: SEGMENT_INDEX_VERSION,
      segment: this.segment,
      bytes: this.bytes,
      lines: this.lines,
      lastOffset: this.lastOffset,
      q: this.q,
      params: [...this.params],
      tags: [...this.tags],
      artifacts: [...this.artifacts.values()],
      inputs: [...this.inputs],
      media: [...this.media],
      ends: [...this.ends],
      consoleLines: this.consoleLines,
      keys,
      blocks: [...this.blocks],
    };
  }
}

/** A saved envelope back in memory: JSON wrote a bucket's NaN min and max (no finite value) as null. */
function liveEnvelope(envelope: Envelope): LiveEnvelope {
  const buckets = new Map<number, EnvelopeBucket>();
  for (const [index, bucket] of envelope.buckets) {
    const { s0, s1, t0, t1, n, bad, min, max, sum } = bucket;
    buckets.set(
      index,
      newBucket(s0, s1, t0, t1, n, bad, min ?? Number.NaN, max ?? Number.NaN, sum),
    );
  }
  return newEnvelope(envelope.width, buckets);
}

function savedEnvelope(envelope: LiveEnvelope): Envelope {
  // (lastIndex and last are this process's cache, not saved.)
  return { width: envelope.width, buckets: [...envelope.buckets].sort((a, b) => a[0] - b[0]) };
}

function addPoint(key: LiveKey, step: number, value: number, timestamp: number): void {
  const ordinal = key.n;
  key.n += 1;
  const finite = Number.isFinite(value);
  if (finite) {
    if (value < key.min) key.min = value;
    if (value > key.max) key.max = value;
    key.sum += value;
  } else {
    key.bad += 1;
  }
  if (step > key.latestStep || (step === key.latestStep && timestamp >= key.latestTs)) {
    key.latestStep = step;
    key.latestValue = value;
    key.latestTs = timestamp;
  }
  addToEnvelope(key.steps, step, step, value, timestamp, finite);
  addToEnvelope(key.order, ordinal, step, value, timestamp, finite);
}

function addToEnvelope(
  envelope: LiveEnvelope,
  position: number,
  step: number,
  value: number,
  timestamp: number,
  finite: boolean,
): void {
  const last = envelope.last;
  if (last !== undefined && position >= envelope.lo && position < envelope.hi) {
    last.n += 1;
    if (step < last.s0) last.s0 = step;
    if (step > last.s1) last.s1 = step;
    if (timestamp < last.t0) last.t0 = timestamp;
    if (timestamp > last.t1) last.t1 = timestamp;
    if (finite) {
      if (!(value >= last.min)) last.min = value;
      if (!(value <= last.max)) last.max = value;
      last.sum += value;
    } else {
      last.bad += 1;
    }
    return;
  }
  const index = Math.floor(position / envelope.width);
  let bucket = envelope.buckets.get(index);
  if (bucket === undefined) {
    bucket = newBucket(step, step, timestamp, timestamp, 0, 0, Number.NaN, Number.NaN, 0);
    envelope.buckets.set(index, bucket);
    if (envelope.buckets.size > ENVELOPE_BUCKETS) {
      addToBucket(bucket, step, value, timestamp, finite);
      coarsen(envelope);
      return;
    }
  }
  envelope.lastIndex = index;
  envelope.last = bucket;
  envelope.lo = index * envelope.width;
  envelope.hi = envelope.lo + envelope.width;
  addToBucket(bucket, step, value, timestamp, finite);
}

function addToBucket(
  bucket: EnvelopeBucket,
  step: number,
  value: number,
  timestamp: number,
  finite: boolean,
): void {
  bucket.n += 1;
  if (step < bucket.s0) bucket.s0 = step;
  if (step > bucket.s1) bucket.s1 = step;
  if (timestamp < bucket.t0) bucket.t0 = timestamp;
  if (timestamp > bucket.t1) bucket.t1 = timestamp;
  if (!finite) {
    bucket.bad += 1;
    return;
  }
  if (!(value >= bucket.min)) bucket.min = value;
  if (!(value <= bucket.max)) bucket.max = value;
  bucket.sum += value;
}

/** Doubles the bucket width until the buckets fit ENVELOPE_BUCKETS. */
function coarsen(envelope: LiveEnvelope): void {
  envelope.lastIndex = -1;
  envelope.last = undefined;
  while (envelope.buckets.size > ENVELOPE_BUCKETS) {
    envelope.width *= 2;
    const merged = new Map<number, EnvelopeBucket>();
    for (const [index, bucket] of envelope.buckets) {
      const into = Math.floor(index / 2);
      const other = merged.get(into);
      merged.set(into, other === undefined ? copyBucket(bucket) : mergeBuckets(other, bucket));
    }
    envelope.buckets = merged;
  }
}

/** The points of both buckets as one bucket (a new object; neither is changed). */
export function mergeBuckets(a: EnvelopeBucket, b: EnvelopeBucket): EnvelopeBucket {
  return newBucket(
    Math.min(a.s0, b.s0),
    Math.max(a.s1, b.s1),
    Math.min(a.t0, b.t0),
    Math.max(a.t1, b.t1),
    a.n + b.n,
    a.bad + b.bad,
    Number.isNaN(a.min) ? b.min : Number.isNaN(b.min) ? a.min : Math.min(a.min, b.min),
    Number.isNaN(a.max) ? b.max : Number.isNaN(b.max) ? a.max : Math.max(a.max, b.max),
    a.sum + b.sum,
  );
}

/** Every bucket is made here, its fields in one order: one object shape on the logging path. */
function newBucket(
  s0: number,
  s1: number,
  t0: number,
  t1: number,
  n: number,
  bad: number,
  min: number,
  max: number,
  sum: number,
): EnvelopeBucket {
  return { s0, s1, t0, t1, n, bad, min, max, sum };
}

function copyBucket(b: EnvelopeBucket): EnvelopeBucket {
  return newBucket(b.s0, b.s1, b.t0, b.t1, b.n, b.bad, b.min, b.max, b.sum);
}

/**
 * A key's summary over several segments (in order): the later segment wins a
 * tie for the latest point; envelopes are brought to the widest width (the
 * order envelope's positions go on from the points of the segments before).
 */
export function mergeKeyIndexes(parts: readonly KeyIndex[]): Omit<KeyIndex, 'blocks'> {
  const [head, ...rest] = parts;
  if (head === undefined) throw new RangeError('mergeKeyIndexes: no parts');
  const out = { ...head };
  for (const part of rest) {
    out.n += part.n;
    out.bad += part.bad;
    out.sum += part.sum;
    if (part.min !== null && (out.min === null || part.min < out.min)) out.min = part.min;
    if (part.max !== null && (out.max === null || part.max > out.max)) out.max = part.max;
    const latest = out.latest;
    if (
      part.latest[0] > latest[0] ||
      (part.latest[0] === latest[0] && part.latest[2] >= latest[2])
    ) {
      out.latest = part.latest;
    }
  }
  const { blocks: _blocks, ...summary } = out;
  return {
    ...summary,
    steps: mergeEnvelopes(parts.map((p) => ({ envelope: p.steps, offset: 0 }))),
    order: mergeEnvelopes(
      parts.map((p, i) => ({
        envelope: p.order,
        offset: parts.slice(0, i).reduce((sum, q) => sum + q.n, 0),
      })),
    ),
  };
}

function mergeEnvelopes(parts: readonly { envelope: Envelope; offset: number }[]): Envelope {
  let width = 1;
  for (const { envelope } of parts) width = Math.max(width, envelope.width);
  const merged = newEnvelope(width);
  for (const { envelope, offset } of parts) {
    for (const [index, bucket] of envelope.buckets) {
      const into = Math.floor((offset + index * envelope.width) / width);
      const other = merged.buckets.get(into);
      merged.buckets.set(
        into,
        other === undefined ? copyBucket(bucket) : mergeBuckets(other, bucket),
      );
    }
  }
  coarsen(merged);
  return savedEnvelope(merged);
}
