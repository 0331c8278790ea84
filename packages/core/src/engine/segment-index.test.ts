import { describe, expect, it } from 'vitest';
import type { MetricColumns } from '../contract/write-batch.js';
import type { BatchRecord } from './journal-records.js';
import { ENVELOPE_BUCKETS, mergeKeyIndexes, SegmentIndex } from './segment-index.js';

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
