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

import type { ConsoleLine, KeyValue, MetricPoint } from './types.js';

/**
 * One request's worth of data, already validated and cut by the engine's
 * batcher to the flavor's `limits.request`. Within a batch, params come before
 * tags before metrics; metric points keep the order they were logged in
 * (or are grouped key by key, for a flavor with `metricOrder: 'by-key'`).
 */
export interface WriteBatch {
  params: KeyValue[];
  tags: KeyValue[];
  metrics: MetricPoint[];
  /**
   * Console lines, in line order, one entry per line number (the latest
   * text). Only flavors with `capabilities.console` get them; absent when none.
   */
  console?: ConsoleLine[];
}

/** A block of metric points as typed-array columns (as the journal keeps them). */
export interface MetricColumns {
  /** Key names; `k` indexes into it. */
  keys: string[];
  k: Uint32Array;
  v: Float64Array;
  s: Float64Array;
  ts: Float64Array;
}

/**
 * Points of a journal block's columns: `[start, end)`, or with `indices` the
 * points `indices[start]` to `indices[end - 1]` (a key's points, for
 * batches laid out key by key).
 */
export interface MetricSlice {
  columns: MetricColumns;
  start: number;
  end: number;
  indices?: Uint32Array | undefined;
}

/** Called with each point of a batch, in the batch's order. */
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
  visitSlices(slices, (key, value, step, timestamp) => {
    points.push({ key, value, step, timestamp });
  });
  return points;
}

function visitSlices(slices: readonly MetricSlice[], visit: MetricVisitor): void {
  for (const { columns, start, end, indices } of slices) {
    const { keys, k, v, s, ts } = columns;
    if (indices === undefined) {
      for (let i = start; i < end; i++) visit(keys[k[i]!]!, v[i]!, s[i]!, ts[i]!);
    } else {
      for (let j = start; j < end; j++) {
        const i = indices[j]!;
        visit(keys[k[i]!]!, v[i]!, s[i]!, ts[i]!);
      }
    }
  }
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
  visitSlices(state.slices, visit);
}
