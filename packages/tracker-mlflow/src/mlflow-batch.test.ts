import type { MetricPoint, WriteBatch } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import {
  LOG_BATCH_LIMITS,
  type LogBatchBody,
  logBatchBodies,
  MLFLOW_LIMITS,
} from './mlflow-batch.js';

const RUN_ID = 'a'.repeat(32);

/** Steps × keys, in the order a training loop logs them (every key of a step, step by step). */
function stepMajor(steps: number, keys: number): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (let step = 0; step < steps; step++) {
    for (let k = 0; k < keys; k++) {
      points.push({
        key: `m${k}`,
        value: step + k / 1000,
        step,
        timestamp: 1_760_000_000_000 + step,
      });
    }
  }
  return points;
}

function batch(
  metrics: MetricPoint[],
  params = 0,
  tags = 0,
  valueAt = (i: number) => `v${i}`,
): WriteBatch {
  return {
    metrics,
    params: Array.from({ length: params }, (_, i) => ({ key: `p${i}`, value: valueAt(i) })),
    tags: Array.from({ length: tags }, (_, i) => ({ key: `t${i}`, value: valueAt(i) })),
  };
}

function expectWithinLimits(bodies: LogBatchBody[]): void {
  for (const body of bodies) {
    const { metrics, params, tags } = body;
    expect(metrics.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.metrics);
    expect(params.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.params);
    expect(tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.tags);
    expect(metrics.length + params.length + tags.length).toBeLessThanOrEqual(
      LOG_BATCH_LIMITS.entities,
    );
    const json = JSON.stringify({ run_id: RUN_ID, ...body });
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(LOG_BATCH_LIMITS.bytes);
  }
}

describe('logBatchBodies', () => {
  it('sends a batch key by key: 100 keys × 100 steps are 10 requests of 10 keys each', () => {
    const points = stepMajor(100, 100);
    const bodies = logBatchBodies(batch(points));
    expect(bodies).toHaveLength(10);
    for (const [i, body] of bodies.entries()) {
      expect(body.metrics).toHaveLength(1000);
      const keys = [...new Set(body.metrics.map((m) => m.key))];
      expect(keys).toEqual(Array.from({ length: 10 }, (_, k) => `m${i * 10 + k}`));
    }
    // Each key's points in the order they were logged; nothing lost, nothing twice.
    const sent = bodies.flatMap((b) => b.metrics);
    expect(sent.filter((m) => m.key === 'm42').map((m) => m.step)).toEqual(
      Array.from({ length: 100 }, (_, s) => s),
    );
    const key = (m: { key: string; step: number }) => `${m.key}@${m.step}`;
    expect(sent.map(key).sort()).toEqual(points.map(key).sort());
    expectWithinLimits(bodies);
  });

  it('puts params and tags first and fills the rest of that request with points', () => {
    const bodies = logBatchBodies(batch(stepMajor(30, 100), 100, 100));
    expect(bodies.map((b) => [b.params.length, b.tags.length, b.metrics.length])).toEqual([
      [100, 100, 800],
      [0, 0, 1000],
      [0, 0, 1000],
      [0, 0, 200],
    ]);
    expectWithinLimits(bodies);
  });

  it('keeps every request body under 1 MB, counting UTF-8 bytes', () => {
    // 100 params of 6000 characters and 100 tags of 8000, three bytes each in UTF-8: 4.2 MB.
    const long = (i: number) => `${i}`.padEnd(i % 2 === 0 ? 6000 : 8000, '€');
    const bodies = logBatchBodies(batch(stepMajor(10, 100), 100, 100, long));
    expect(bodies.length).toBeGreaterThanOrEqual(5);
    expectWithinLimits(bodies);
    const sent = bodies.flatMap((b) => b.params);
    expect(sent.map((p) => p.key)).toEqual(Array.from({ length: 100 }, (_, i) => `p${i}`));
    expect(bodies.flatMap((b) => b.metrics)).toHaveLength(1000);
  });

  it('sends NaN and ±Infinity as the strings protobuf JSON reads', () => {
    const [body] = logBatchBodies(
      batch([
        { key: 'a', value: Number.NaN, step: 0, timestamp: 1 },
        { key: 'a', value: Number.POSITIVE_INFINITY, step: 1, timestamp: 2 },
        { key: 'a', value: Number.NEGATIVE_INFINITY, step: 2, timestamp: 3 },
        { key: 'a', value: -0.5, step: 3, timestamp: 4 },
      ]),
    );
    expect(body!.metrics.map((m) => m.value)).toEqual(['NaN', 'Infinity', '-Infinity', -0.5]);
  });

  it('gives the same bodies for the same batch, and none for an empty one', () => {
    const b = batch(stepMajor(25, 7), 3, 2);
    expect(logBatchBodies(b)).toEqual(logBatchBodies(b));
    expect(logBatchBodies(batch([]))).toEqual([]);
  });

  it('fits any batch core cuts to the flavor limits', () => {
    const full = batch(
      stepMajor(MLFLOW_LIMITS.maxMetricsPerBatch / 250, 250),
      MLFLOW_LIMITS.maxParamsPerBatch,
      MLFLOW_LIMITS.maxTagsPerBatch,
    );
    const bodies = logBatchBodies(full);
    expectWithinLimits(bodies);
    expect(bodies.flatMap((b) => b.metrics)).toHaveLength(MLFLOW_LIMITS.maxMetricsPerBatch);
  });
});
