/**
 * The metric points of a delivered batch, kept as the journal's columns.
 *
 * Core reads points back from the journal as typed-array columns. A batch
 * built by delivery holds slices of those columns; `batch.metrics` makes a
 * `MetricPoint` per point only when a flavor first reads it, and
 * `forEachMetric` visits the points straight from the columns, so a flavor
 * that encodes points one by one (W&B's transaction log) makes no object per
 * point at all.
 */

import type { KeyValue, MetricPoint, WriteBatch } from '../types.js';
import type { DecodedMetrics } from './journal.js';

/** Points `[start, end)` of a journal block's decoded columns. */
export interface MetricSlice {
  columns: DecodedMetrics;
  start: number;
  end: number;
}

/** Called with each point of a batch, in journal order. */
export type MetricVisitor = (key: string, value: number, step: number, timestamp: number) => void;

const POINTS = Symbol('trackstack.batchPoints');

/** A batch's points: the column slices, and the MetricPoints once made. */
interface BatchPoints {
  slices: MetricSlice[];
  points: MetricPoint[] | undefined;
}

/**
 * A batch whose `metrics` are `slices` (shared: slices pushed onto the array
 * before the first read are part of the batch). `metrics` is built on the
 * first read and kept, so a retried batch sends the same points.
 */
export function lazyMetricsBatch(
  params: KeyValue[],
  tags: KeyValue[],
  slices: MetricSlice[],
): WriteBatch {
  const state: BatchPoints = { slices, points: undefined };
  const batch = { params, tags } as WriteBatch;
  Object.defineProperty(batch, POINTS, { value: state });
  Object.defineProperty(batch, 'metrics', {
    enumerable: true,
    configurable: true,
    get: () => {
      state.points ??= materialize(state.slices);
      return state.points;
    },
    set: (value: MetricPoint[]) => {
      state.points = value;
    },
  });
  return batch;
}

function materialize(slices: readonly MetricSlice[]): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const { columns, start, end } of slices) {
    const { keys, k, v, s, ts } = columns;
    for (let i = start; i < end; i++) {
      points.push({ key: keys[k[i]!]!, value: v[i]!, step: s[i]!, timestamp: ts[i]! });
    }
  }
  return points;
}

/**
 * Visits a batch's metric points in order, as `for (const p of batch.metrics)`
 * would, without making a `MetricPoint` per point when core built the batch
 * and nothing read its `metrics` yet. Works on any `WriteBatch`, including one
 * a test builds by hand.
 */
export function forEachMetric(batch: WriteBatch, visit: MetricVisitor): void {
  const state = (batch as { [POINTS]?: BatchPoints })[POINTS];
  if (state === undefined || state.points !== undefined) {
    for (const point of batch.metrics) visit(point.key, point.value, point.step, point.timestamp);
    return;
  }
  for (const { columns, start, end } of state.slices) {
    const { keys, k, v, s, ts } = columns;
    for (let i = start; i < end; i++) visit(keys[k[i]!]!, v[i]!, s[i]!, ts[i]!);
  }
}
