import { describe, expect, it } from 'vitest';
import { decodeMetrics } from '../engine/journal-records.js';
import { MetricBuffer } from '../engine/metric-buffer.js';
import type { MetricPoint } from './types.js';
import { forEachMetric, lazyMetricsBatch, type WriteBatch } from './write-batch.js';

describe('batches built from journal columns', () => {
  function columnsBatch(): WriteBatch {
    const buffer = new MetricBuffer(8);
    const a = buffer.addKey('a');
    const b = buffer.addKey('b');
    for (let i = 0; i < 6; i++) buffer.push(i % 2 === 0 ? a : b, i * 1.5, i >> 1, 100 + i);
    const { block, columns } = buffer.drain(true)!;
    expect(decodeMetrics(block)).toEqual(columns);
    return lazyMetricsBatch(
      [],
      [],
      [
        { columns: columns!, start: 1, end: 3 },
        { columns: columns!, start: 4, end: 6 },
      ],
    );
  }
  const expected: MetricPoint[] = [
    { key: 'b', value: 1.5, step: 0, timestamp: 101 },
    { key: 'a', value: 3, step: 1, timestamp: 102 },
    { key: 'a', value: 6, step: 2, timestamp: 104 },
    { key: 'b', value: 7.5, step: 2, timestamp: 105 },
  ];
  const visited = (batch: WriteBatch) => {
    const out: MetricPoint[] = [];
    forEachMetric(batch, (key, value, step, timestamp) =>
      out.push({ key, value, step, timestamp }),
    );
    return out;
  };

  it('visits the points of its slices in order, as `metrics` lists them', () => {
    const batch = columnsBatch();
    expect(visited(batch)).toEqual(expected);
    expect(batch.metrics).toEqual(expected);
    expect(batch.metrics).toBe(batch.metrics);
    expect({ ...batch }.metrics).toEqual(expected);
  });

  it('visits what a flavor put in `metrics` once it was read or replaced', () => {
    const read = columnsBatch();
    read.metrics.pop();
    expect(visited(read)).toEqual(expected.slice(0, 3));
    const replaced = columnsBatch();
    replaced.metrics = [expected[0]!];
    expect(visited(replaced)).toEqual([expected[0]]);
  });

  it('visits the points a key-by-key slice picks, in the order of its indices', () => {
    const { columns } = (() => {
      const buffer = new MetricBuffer(8);
      const a = buffer.addKey('a');
      const b = buffer.addKey('b');
      for (let i = 0; i < 4; i++) buffer.push(i % 2 === 0 ? a : b, i, i, 100 + i);
      return buffer.drain(true)!;
    })();
    const batch = lazyMetricsBatch(
      [],
      [],
      [
        { columns: columns!, indices: Uint32Array.of(0, 2, 1, 3), start: 0, end: 2 },
        { columns: columns!, indices: Uint32Array.of(0, 2, 1, 3), start: 2, end: 4 },
      ],
    );
    expect(visited(batch).map((p) => `${p.key}${p.value}`)).toEqual(['a0', 'a2', 'b1', 'b3']);
    expect(batch.metrics.map((p) => p.step)).toEqual([0, 2, 1, 3]);
  });

  it('visits a batch built by hand', () => {
    expect(visited({ params: [], tags: [], metrics: expected })).toEqual(expected);
  });
});
