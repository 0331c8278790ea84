import { describe, expect, it } from 'vitest';
import { TrackstackError } from '../contract/errors.js';
import { type FilterableRun, matchesRunFilter, parseRunFilter } from './run-filter.js';

const run: FilterableRun = {
  metrics: { 'val/acc': 0.93, loss: 0.2 },
  params: { lr: '0.01', 'model name': 'resnet-50' },
  tags: { team: 'ml', stage: 'Dev' },
  uid: '01abc',
  name: 'baseline',
  experiment: 'iris',
  status: 'FINISHED',
  startTime: 1000,
  endTime: 5000,
};

const matches = (filter: string) => matchesRunFilter(parseRunFilter(filter), run);

describe('run filters (MLflow search syntax)', () => {
  it("reads the issue's example and matches on metrics, params and tags", () => {
    expect(matches("metrics.val/acc > 0.9 and params.lr = '0.01' and tags.team = 'ml'")).toBe(true);
    expect(matches("metrics.val/acc > 0.95 and params.lr = '0.01'")).toBe(false);
    expect(parseRunFilter("metrics.val/acc > 0.9 AND params.lr = '0.01'")).toEqual([
      { entity: 'metrics', key: 'val/acc', op: '>', value: 0.9 },
      { entity: 'params', key: 'lr', op: '=', value: '0.01' },
    ]);
  });

  it('takes every comparison, quoted keys and attributes', () => {
    for (const [filter, expected] of [
      ['metrics.loss <= 0.2', true],
      ['metrics.loss < 0.2', false],
      ['metrics.loss != 0.3', true],
      ['metric.loss >= 2e-1', true],
      ["params.`model name` LIKE 'resnet%'", true],
      ['params."model name" = \'resnet-50\'', true],
      ["tags.stage ILIKE 'dev'", true],
      ["tags.stage LIKE 'dev'", false],
      ["tags.team IN ('ml', 'infra')", true],
      ["tags.team NOT IN ('ml')", false],
      ["attributes.status = 'FINISHED'", true],
      ["attr.run_name = 'baseline' and run.experiment = 'iris'", true],
      ['attributes.start_time > 500 and attributes.end_time < 6000', true],
      ['metrics.missing > 0', false],
      ['', true],
    ] as const) {
      expect(matches(filter), filter).toBe(expected);
    }
  });

  it('refuses what it cannot read with INVALID_FILTER, saying where', () => {
    for (const [filter, message] of [
      ["metrics.loss > 'x'", /compare with a number/],
      ['params.lr = 0.01', /quoted string/],
      ["params.lr > '1'", /=, !=, LIKE/],
      ["tags.a = 'x' or tags.b = 'y'", /joined by `and`/],
      ["foo.a = 'x'", /not metrics, params, tags or attributes/],
      ["attributes.color = 'red'", /no attribute "color"/],
      ["tags.a = 'x", /not closed/],
      ['metrics.loss', /a comparison/],
      ["tags.a IN 'x'", /takes a list/],
      ['lr = 1', /starts with metrics/],
    ] as const) {
      let error: unknown;
      try {
        parseRunFilter(filter);
      } catch (e) {
        error = e;
      }
      expect(TrackstackError.isInstance(error), filter).toBe(true);
      expect((error as TrackstackError).code).toBe('INVALID_FILTER');
      expect((error as Error).message, filter).toMatch(message);
    }
  });
});
