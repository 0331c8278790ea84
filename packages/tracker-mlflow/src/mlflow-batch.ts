/**
 * One request of core's as MLflow's `runs/log-batch` body. Core's batcher has
 * cut it to MLflow's per-request limits (core's `DEFAULT_LIMITS` are
 * MLflow's: 1000 metrics, 100 params, 100 tags, 1000 entities, 1 MB) and,
 * since the flavor asks for `metricOrder: 'by-key'`, laid its points out key
 * by key: the server keeps a `latest_metrics` row per key and reads, locks
 * and updates the rows of every key a request holds, so fewer keys per
 * request is less server work for the same points (docs/performance.md).
 * MLflow orders a metric's history by step and timestamp and picks the
 * latest value by (step, timestamp, value), so the order points arrive in
 * changes nothing a reader sees.
 */
import { forEachMetric, type KeyValue, type WriteBatch } from '@trackstack/core';

/** A metric as log-batch takes it: JSON has no NaN or Infinity, so those go as strings. */
interface LogBatchMetric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}

export interface LogBatchBody {
  run_id: string;
  metrics: LogBatchMetric[];
  params: KeyValue[];
  tags: KeyValue[];
}

export function logBatchBody(runId: string, batch: WriteBatch): LogBatchBody {
  const metrics: LogBatchMetric[] = [];
  forEachMetric(batch, (key, value, step, timestamp) => {
    metrics.push({ key, value: Number.isFinite(value) ? value : String(value), timestamp, step });
  });
  return { run_id: runId, metrics, params: batch.params, tags: batch.tags };
}
