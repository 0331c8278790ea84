import { describe, expect, it } from 'vitest';
import { logInputsBody, mlflowSource } from './mlflow-inputs.js';

describe('MLflow dataset inputs', () => {
  it('writes the dataset and its context tag as runs/log-inputs takes them', () => {
    expect(
      logInputsBody('r1', {
        name: 'iris',
        digest: 'abc',
        source: '/data/iris.csv',
        sourceType: 'local',
        schema: '{"a":1}',
        context: 'training',
      }),
    ).toEqual({
      run_id: 'r1',
      datasets: [
        {
          tags: [{ key: 'mlflow.data.context', value: 'training' }],
          dataset: {
            name: 'iris',
            digest: 'abc',
            source_type: 'local',
            source: '{"uri":"/data/iris.csv"}',
            schema: '{"a":1}',
          },
        },
      ],
    });
  });

  it("gives http sources MLflow's url form and a sourceless dataset an empty source", () => {
    expect(mlflowSource({ name: 'x', source: 'https://e.com/x.csv', sourceType: 'http' })).toBe(
      '{"url":"https://e.com/x.csv"}',
    );
    expect(mlflowSource({ name: 'x' })).toBe('{}');
    expect(logInputsBody('r', { name: 'x', digest: 'd', sourceType: 'code' }).datasets).toEqual([
      { tags: [], dataset: { name: 'x', digest: 'd', source_type: 'code', source: '{}' } },
    ]);
  });
});
