import { DEFAULT_LIMITS, type MetricPoint } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import { logBatchBody } from './mlflow-batch.js';
import { MlflowExperimentTracker } from './mlflow-tracker.js';

const RUN_ID = 'a'.repeat(32);
const point = (value: number, step: number): MetricPoint => ({
  key: 'a',
  value,
  step,
  timestamp: step,
});

describe('logBatchBody', () => {
  it('sends NaN and ±Infinity as the strings protobuf JSON reads, and the rest as they are', () => {
    const body = logBatchBody(RUN_ID, {
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 'team', value: 'ml' }],
      metrics: [
        point(Number.NaN, 0),
        point(Number.POSITIVE_INFINITY, 1),
        point(Number.NEGATIVE_INFINITY, 2),
        point(-0.5, 3),
      ],
    });
    expect(body).toEqual({
      run_id: RUN_ID,
      params: [{ key: 'lr', value: '0.1' }],
      tags: [{ key: 'team', value: 'ml' }],
      metrics: [
        { key: 'a', value: 'NaN', timestamp: 0, step: 0 },
        { key: 'a', value: 'Infinity', timestamp: 1, step: 1 },
        { key: 'a', value: '-Infinity', timestamp: 2, step: 2 },
        { key: 'a', value: -0.5, timestamp: 3, step: 3 },
      ],
    });
  });

  it("asks core for requests of MLflow's own limits, laid out key by key", () => {
    const tracker = new MlflowExperimentTracker({
      tracking_uri: 'http://127.0.0.1:5000',
      nested: false,
      tags: {},
      request_timeout_s: 30,
    });
    expect(tracker.limits).toBe(DEFAULT_LIMITS);
    expect(tracker.capabilities).toMatchObject({
      orderedWrites: false,
      metricOrder: 'by-key',
      maxConcurrency: 2,
    });
    // max_requests_in_flight is how many of those requests core keeps in flight.
    const wider = new MlflowExperimentTracker({
      tracking_uri: 'http://127.0.0.1:5000',
      nested: false,
      tags: {},
      request_timeout_s: 30,
      max_requests_in_flight: 8,
    });
    expect(wider.capabilities.maxConcurrency).toBe(8);
  });
});
