import { describe, expect, it } from 'vitest';
import type { MetricColumns } from '../contract/write-batch.js';
import type { BatchRecord } from './journal-records.js';
import {
  ENVELOPE_BUCKETS,
  type EnvelopeBucket,
  mergeBuckets,
  mergeKeyIndexes,
  SEGMENT_INDEX_VERSION,
  SegmentIndex,
} from './segment-index.js';

/** A metrics record of one key's points at these steps, values and timestamps. */
function block(q: number, key: string, steps: number[], values: number[], ts?: number[]) {
  const n = steps.length;
  const columns: MetricColumns = {
    keys: [key],
    k: new Uint32Array(n),
    v: Float64Array.from(values),
    s: Float64Array.from(steps),
    ts: Float64Array.from(ts ?? steps.map((s) => 1000 + s)),
  };
  const record = { t: 'b', q, m: { n, keys: [key], k: '', v: '', s: '', ts: '' } } as BatchRecord;
  return { record, columns };
}

describe('SegmentIndex', () => {
  it('keeps at most ENVELOPE_BUCKETS buckets, every point counted once, and the block offsets', () => {
    const index = new SegmentIndex('seg');
    index.skip(0, 100);
    let offset = 100;
    for (let b = 0; b < 50; b++) {
      const steps = Array.from({ length: 1000 }, (_, i) => b * 1000 + i);
      const { record, columns } = block(
        b + 1,
        'loss',
        steps,
        steps.map((s) => Math.sin(s)),
      );
      index.add(record, offset, 500, columns);
      offset += 500;
    }
    const data = index.toJSON();
    const key = data.keys.loss!;
    expect(key.n).toBe(50_000);
    for (const envelope of [key.steps, key.order]) {
      expect(envelope.buckets.length).toBeLessThanOrEqual(ENVELOPE_BUCKETS);
      expect(envelope.buckets.reduce((n, [, b]) => n + b.n, 0)).toBe(50_000);
    }
    expect(key.blocks).toHaveLength(50);
    expect(data.blocks[3]).toEqual([100 + 3 * 500, 500, 1000, 3000, 3999]);
    expect(data).toMatchObject({ bytes: offset, lines: 51, lastOffset: offset - 500, q: 50 });
    expect(key.latest).toEqual([49_999, Math.sin(49_999), 1000 + 49_999]);
  });

  it('goes on from its saved form exactly as it would have without saving', () => {
    const whole = new SegmentIndex('seg');
    const resumed = new SegmentIndex('seg');
    const first = block(1, 'm', [0, 1, 2], [3, Number.NaN, 1]);
    const second = block(2, 'm', [2, 5], [7, -1], [5000, 5001]);
    whole.add(first.record, 0, 10, first.columns);
    whole.add(second.record, 10, 10, second.columns);
    resumed.add(first.record, 0, 10, first.columns);
    const restored = SegmentIndex.fromJSON(JSON.parse(JSON.stringify(resumed.toJSON())));
    restored.add(second.record, 10, 10, second.columns);
    expect(restored.toJSON()).toEqual(whole.toJSON());
    expect(whole.toJSON().keys.m).toMatchObject({
      n: 5,
      bad: 1,
      min: -1,
      max: 7,
      sum: 10,
      latest: [5, -1, 5001],
    });
  });

  it('merges segments: the later one wins a tie for the latest point', () => {
    const a = new SegmentIndex('a');
    const b = new SegmentIndex('b');
    const one = block(1, 'm', [4], [1], [100]);
    const two = block(1, 'm', [4], [2], [100]);
    a.add(one.record, 0, 1, one.columns);
    b.add(two.record, 0, 1, two.columns);
    const merged = mergeKeyIndexes([a.toJSON().keys.m!, b.toJSON().keys.m!]);
    expect(merged).toMatchObject({ n: 2, latest: [4, 2, 100], min: 1, max: 2 });
    expect(merged.order.buckets.map(([i, bucket]) => [i, bucket.n])).toEqual([
      [0, 1],
      [1, 1],
    ]);
  });
});

/** An envelope's buckets as [index, s0, s1, t0, t1, n]. */
function spans(buckets: [number, EnvelopeBucket][]) {
  return buckets.map(([i, b]) => [i, b.s0, b.s1, b.t0, b.t1, b.n]);
}

describe('SegmentIndex bucket timestamps', () => {
  it('is of version 2 (buckets with t0 and t1)', () => {
    expect(SEGMENT_INDEX_VERSION).toBe(2);
    expect(new SegmentIndex('seg').toJSON().v).toBe(2);
  });

  it('keeps the smallest and largest timestamp of each bucket, on every way a point comes in', () => {
    const index = new SegmentIndex('seg');
    // Step 0: a new bucket (500), the same bucket again (earlier 100, later 900);
    // step 1: another bucket (300); back to step 0, not the last bucket (50).
    const { record, columns } = block(
      1,
      'm',
      [0, 0, 0, 1, 0],
      [1, 2, 3, 4, 5],
      [500, 100, 900, 300, 50],
    );
    index.add(record, 0, 10, columns);
    const key = index.toJSON().keys.m!;
    expect(spans(key.steps.buckets)).toEqual([
      [0, 0, 0, 50, 900, 4],
      [1, 1, 1, 300, 300, 1],
    ]);
    // Over the points in logging order: one point a bucket.
    expect(spans(key.order.buckets)).toEqual([
      [0, 0, 0, 500, 500, 1],
      [1, 0, 0, 100, 100, 1],
      [2, 0, 0, 900, 900, 1],
      [3, 1, 1, 300, 300, 1],
      [4, 0, 0, 50, 50, 1],
    ]);
  });

  it('merges the timestamps of buckets it coarsens: min of t0, max of t1', () => {
    const index = new SegmentIndex('seg');
    // One step more than ENVELOPE_BUCKETS, time running backwards: the envelope halves.
    const steps = Array.from({ length: ENVELOPE_BUCKETS + 1 }, (_, i) => i);
    const { record, columns } = block(
      1,
      'm',
      steps,
      steps.map(() => 1),
      steps.map((s) => 10_000 - 3 * s),
    );
    index.add(record, 0, 10, columns);
    const key = index.toJSON().keys.m!;
    for (const envelope of [key.steps, key.order]) {
      expect(envelope.width).toBe(2);
      expect(envelope.buckets).toHaveLength(ENVELOPE_BUCKETS / 2 + 1);
      expect(spans(envelope.buckets.slice(0, 2))).toEqual([
        [0, 0, 1, 9_997, 10_000, 2],
        [1, 2, 3, 9_991, 9_994, 2],
      ]);
      // The point that made the envelope coarsen, alone in the last bucket.
      expect(spans(envelope.buckets.slice(-1))).toEqual([
        [ENVELOPE_BUCKETS / 2, 512, 512, 10_000 - 3 * 512, 10_000 - 3 * 512, 1],
      ]);
    }
  });

  it('mergeBuckets takes the smallest t0 and the largest t1 and changes neither bucket', () => {
    const a: EnvelopeBucket = {
      s0: 0,
      s1: 3,
      t0: 200,
      t1: 400,
      n: 2,
      bad: 0,
      min: 1,
      max: 2,
      sum: 3,
    };
    const b: EnvelopeBucket = {
      s0: 4,
      s1: 7,
      t0: 100,
      t1: 300,
      n: 1,
      bad: 1,
      min: Number.NaN,
      max: Number.NaN,
      sum: 0,
    };
    const before = [{ ...a }, { ...b }];
    expect(mergeBuckets(a, b)).toEqual({
      s0: 0,
      s1: 7,
      t0: 100,
      t1: 400,
      n: 3,
      bad: 1,
      min: 1,
      max: 2,
      sum: 3,
    });
    expect(mergeBuckets(b, a)).toMatchObject({ t0: 100, t1: 400 });
    expect([a, b]).toEqual(before);
    // Keys in one order, whichever way a bucket was made.
    expect(Object.keys(mergeBuckets(a, b))).toEqual([
      's0',
      's1',
      't0',
      't1',
      'n',
      'bad',
      'min',
      'max',
      'sum',
    ]);
  });

  it('saves and loads the timestamps, and goes on from them', () => {
    const index = new SegmentIndex('seg');
    const first = block(1, 'm', [0, 0, 1], [1, Number.NaN, 3], [700, 200, 400]);
    index.add(first.record, 0, 10, first.columns);
    const saved = JSON.parse(JSON.stringify(index.toJSON()));
    expect(saved.keys.m.steps.buckets).toEqual([
      [0, { s0: 0, s1: 0, t0: 200, t1: 700, n: 2, bad: 1, min: 1, max: 1, sum: 1 }],
      [1, { s0: 1, s1: 1, t0: 400, t1: 400, n: 1, bad: 0, min: 3, max: 3, sum: 3 }],
    ]);
    const restored = SegmentIndex.fromJSON(saved);
    expect(restored.toJSON()).toEqual(index.toJSON());
    const second = block(2, 'm', [0, 1], [5, 6], [100, 900]);
    restored.add(second.record, 10, 10, second.columns);
    expect(spans(restored.toJSON().keys.m!.steps.buckets)).toEqual([
      [0, 0, 0, 100, 700, 3],
      [1, 1, 1, 400, 900, 2],
    ]);
  });

  it('merges the timestamps of segments into the widest envelope', () => {
    const a = new SegmentIndex('a');
    const b = new SegmentIndex('b');
    const one = block(1, 'm', [4, 5], [1, 2], [1_000, 1_500]);
    const two = block(1, 'm', [4], [3], [2_000]);
    a.add(one.record, 0, 1, one.columns);
    b.add(two.record, 0, 1, two.columns);
    const merged = mergeKeyIndexes([a.toJSON().keys.m!, b.toJSON().keys.m!]);
    expect(spans(merged.steps.buckets)).toEqual([
      [4, 4, 4, 1_000, 2_000, 2],
      [5, 5, 5, 1_500, 1_500, 1],
    ]);
    // The order envelope's positions go on from the first segment's points.
    expect(spans(merged.order.buckets)).toEqual([
      [0, 4, 4, 1_000, 1_000, 1],
      [1, 5, 5, 1_500, 1_500, 1],
      [2, 4, 4, 2_000, 2_000, 1],
    ]);
  });
});
