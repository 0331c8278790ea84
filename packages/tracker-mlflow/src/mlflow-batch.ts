/**
 * How one core batch becomes MLflow `runs/log-batch` requests.
 *
 * The flavor takes batches of up to {@link MLFLOW_BATCH_POINTS} points from
 * core and sends them as requests within MLflow's per-request limits, the
 * points grouped key by key (a key's points in journal order). A batch of
 * 100 keys over 100 steps goes out as 10 requests of 10 keys each, instead of
 * 10 requests that each touch all 100 keys: the server keeps a `latest_metrics`
 * row per key and reads, locks and updates the rows of every key a request
 * holds, so fewer keys per request is less server work for the same points
 * (~15 % less server CPU per point measured; docs/performance.md). MLflow
 * orders a metric's history by step and timestamp and picks the latest value
 * by (step, timestamp, value), so the order points arrive in changes nothing
 * a reader sees.
 */
import {
  DEFAULT_LIMITS,
  type FlavorLimits,
  forEachMetric,
  type KeyValue,
  type WriteBatch,
} from '@trackstack/core';

/**
 * MLflow's limits on one `runs/log-batch` request (PROTOCOLS.md): core's
 * `DEFAULT_LIMITS` are MLflow's, so they are read from there.
 */
export const LOG_BATCH_LIMITS = Object.freeze({
  metrics: DEFAULT_LIMITS.maxMetricsPerBatch,
  params: DEFAULT_LIMITS.maxParamsPerBatch,
  tags: DEFAULT_LIMITS.maxTagsPerBatch,
  entities: DEFAULT_LIMITS.maxEntitiesPerBatch,
  /** MLflow documents 1 MB per request body. */
  bytes: DEFAULT_LIMITS.maxBatchBytes,
});

/** Points in one core batch: ten requests' worth, so one batch spans ten times fewer keys per request. */
export const MLFLOW_BATCH_POINTS = 10 * LOG_BATCH_LIMITS.metrics;

/**
 * The flavor's `limits`: what one core batch may hold (it goes out as several
 * requests). Params and tags stay at one request's worth; key and value
 * lengths are MLflow's (`DEFAULT_LIMITS`).
 */
export const MLFLOW_LIMITS: Readonly<FlavorLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  maxMetricsPerBatch: MLFLOW_BATCH_POINTS,
  maxEntitiesPerBatch: MLFLOW_BATCH_POINTS + LOG_BATCH_LIMITS.params + LOG_BATCH_LIMITS.tags,
  maxBatchBytes: 10 * LOG_BATCH_LIMITS.bytes,
});

/** A metric as log-batch takes it: JSON has no NaN or Infinity, so those go as strings. */
export interface LogBatchMetric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}

/** The body of one `runs/log-batch` request, without `run_id`. */
export interface LogBatchBody {
  metrics: LogBatchMetric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/** `{"key":…,"value":…}` and its separator, beyond the strings themselves. */
const ENTRY_OVERHEAD = 24;
/** `{"key":…,"value":…,"timestamp":…,"step":…}`: numbers at their longest, and the separator. */
const METRIC_OVERHEAD = 96;
/** `{"run_id":"<32 hex>","metrics":[],"params":[],"tags":[]}`. */
const BODY_OVERHEAD = 96;

/**
 * The log-batch bodies of a batch, in the order to send them: params first,
 * then tags, then the metrics key by key. Each body keeps within
 * {@link LOG_BATCH_LIMITS} (counts, and the body's UTF-8 size). The same batch
 * always gives the same bodies.
 */
export function logBatchBodies(batch: WriteBatch): LogBatchBody[] {
  const bodies: LogBatchBody[] = [];
  let body: LogBatchBody | undefined;
  let entities = 0;
  let bytes = 0;
  /** The open body when an entity of `size` bytes fits, else a new one. */
  const room = (kind: keyof LogBatchBody, limit: number, size: number): LogBatchBody => {
    if (
      body === undefined ||
      body[kind].length >= limit ||
      entities >= LOG_BATCH_LIMITS.entities ||
      bytes + size > LOG_BATCH_LIMITS.bytes
    ) {
      body = { metrics: [], params: [], tags: [] };
      bodies.push(body);
      entities = 0;
      bytes = BODY_OVERHEAD;
    }
    entities += 1;
    bytes += size;
    return body;
  };
  const entrySize = (entry: KeyValue) =>
    Buffer.byteLength(entry.key) + Buffer.byteLength(entry.value) + ENTRY_OVERHEAD;
  for (const param of batch.params) {
    room('params', LOG_BATCH_LIMITS.params, entrySize(param)).params.push(param);
  }
  for (const tag of batch.tags) {
    room('tags', LOG_BATCH_LIMITS.tags, entrySize(tag)).tags.push(tag);
  }
  // Key by key, each key's points in journal order; keys in the order they first appear.
  const byKey = new Map<string, LogBatchMetric[]>();
  forEachMetric(batch, (key, value, step, timestamp) => {
    let points = byKey.get(key);
    if (points === undefined) {
      points = [];
      byKey.set(key, points);
    }
    points.push({ key, value: Number.isFinite(value) ? value : String(value), timestamp, step });
  });
  for (const [key, points] of byKey) {
    const size = Buffer.byteLength(key) + METRIC_OVERHEAD;
    for (const point of points) room('metrics', LOG_BATCH_LIMITS.metrics, size).metrics.push(point);
  }
  return bodies;
}
